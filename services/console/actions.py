"""``POST /requests/{id}/actions/{action}``: counsel's decisions and gag changes as
forms. Each is checked against the model intake checks (``services.console.forms``),
sent to intake as the signed-in person, and answered by the request's page: a 303 to it
with the result (``recorded``, the event's id), or the form again with its problems."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from services.console.auth import require_csrf
from services.console.context import Context, PageProblem, Staff
from services.console.forms import ACTIONS, decision_of, field_problems, read_form
from services.console.pages import request_page
from services.console.views import gag_in_force

router = APIRouter()


@router.post("/requests/{request_id}/actions/{action}", dependencies=[Depends(require_csrf)])
async def act(
    request: Request, request_id: str, action: str, user: Staff, context: Context
) -> Response:
    if action not in ACTIONS:
        raise PageProblem(404, "No such action", f"the console has no action {action!r}")
    form = read_form(await request.form())
    now = datetime.now(UTC)
    result = decision_of(action, form, now)
    if result.body is None:
        return await request_page(
            request, request_id, user, context, {action: result.problems}, form, 422
        )
    if action == "end-hold":
        # the notifier never sends under a gag whatever counsel decides; the console
        # does not even ask while one is in force
        history = await context.upstream.audit(user, f"/v1/requests/{request_id}")
        if history.status_code == 200 and gag_in_force(history.json(), now) is not None:
            problems = {"form": "a non-disclosure order is in force: no notice can be sent"}
            return await request_page(
                request, request_id, user, context, {action: problems}, form, 409
            )
    path = f"/v1/requests/{request_id}/{ACTIONS[action].path}"
    response = await context.upstream.intake(user, path, result.body)
    if response.status_code == 202:
        event_id = response.json()["event_id"]
        return RedirectResponse(
            f"/requests/{request_id}?recorded={action}&event={event_id}#result",
            status_code=303,
        )
    if response.status_code == 422:
        problems = field_problems(response.json().get("errors") or [])
    elif response.status_code == 409:
        problems = {"form": str(response.json().get("detail", "refused"))}
    elif response.status_code == 404:
        raise PageProblem(404, "Not found", "no such request, or not one you may see")
    else:
        problems = {"form": f"intake answered {response.status_code}"}
    return await request_page(
        request, request_id, user, context, {action: problems}, form, response.status_code
    )
