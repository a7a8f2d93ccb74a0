"""Audit's HTTP read side (contract section 4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel

from services.audit.domain.request_view import NotificationView
from services.audit.domain.tree_head import SignedTreeHead
from services.audit.store import AuditStore
from services.audit.tree import LogTree


class EventRef(BaseModel):
    event_id: str
    type: str
    occurred_at: datetime
    leaf_index: int
    trace_id: str | None


class RequestHistory(BaseModel):
    request_id: str
    state: str
    received: dict[str, Any] | None
    classification: dict[str, Any] | None
    notifications: list[NotificationView]
    decision: dict[str, Any] | None
    amendments: list[dict[str, Any]]
    events: list[EventRef]


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    consistency_path: list[str]


class PublicKey(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    public_key_pem: str
    public_key_base64: str


def install_routes(app: FastAPI, store: AuditStore, tree: LogTree, public_key: PublicKey) -> None:
    router = APIRouter(prefix="/v1")

    @router.get("/audit/tree-head", response_model=SignedTreeHead)
    async def tree_head() -> SignedTreeHead:
        return await tree.sign_head()

    @router.get("/audit/public-key", response_model=PublicKey)
    async def signing_public_key() -> PublicKey:
        return public_key

    @router.get("/audit/proof/inclusion", response_model=InclusionProof)
    async def inclusion(
        leaf_index: Annotated[int, Query(ge=0)], tree_size: Annotated[int, Query(ge=1)]
    ) -> InclusionProof:
        size = await tree.catch_up()
        if tree_size > size or leaf_index >= tree_size:
            raise HTTPException(
                status_code=400,
                detail=f"need 0 <= leaf_index < tree_size <= {size} (the current size)",
            )
        path = tree.tree.inclusion_proof(leaf_index, tree_size)
        leaf = tree.tree.level(0, leaf_index)[0]
        return InclusionProof(
            leaf_index=leaf_index,
            tree_size=tree_size,
            leaf_hash=leaf.hex(),
            audit_path=[node.hex() for node in path],
        )

    @router.get("/audit/proof/consistency", response_model=ConsistencyProof)
    async def consistency(
        first: Annotated[int, Query(ge=1)], second: Annotated[int, Query(ge=1)]
    ) -> ConsistencyProof:
        size = await tree.catch_up()
        if first > second or second > size:
            raise HTTPException(
                status_code=400, detail=f"need 1 <= first <= second <= {size} (the current size)"
            )
        path = tree.tree.consistency_proof(first, second)
        return ConsistencyProof(
            first=first, second=second, consistency_path=[node.hex() for node in path]
        )

    @router.get("/requests/{request_id}", response_model=RequestHistory)
    async def request_history(request_id: str) -> RequestHistory:
        view = await store.request_view(request_id)
        events = await store.events_of(request_id)
        if view is None and not events:
            raise HTTPException(status_code=404, detail=f"no request {request_id}")
        return RequestHistory(
            request_id=request_id,
            state=view.state if view else "unknown",
            received=view.received if view else None,
            classification=view.classification if view else None,
            notifications=list(view.notifications) if view else [],
            decision=view.decision if view else None,
            amendments=list(view.amendments) if view else [],
            events=[
                EventRef(
                    event_id=e.event_id,
                    type=e.event_type,
                    occurred_at=e.occurred_at,
                    leaf_index=e.leaf_index,
                    trace_id=e.trace_id,
                )
                for e in events
            ],
        )

    app.include_router(router)
