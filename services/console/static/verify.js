// Verify in the browser that a page's events are in Docket's signed audit log, so the
// reader need not trust the server that rendered the page.
//
// Plain ES module, no dependencies, no build step; WebCrypto only (SHA-256, Ed25519),
// which needs a secure context (https, or http on 127.0.0.1 / localhost).
//
// - verifyCheckpoint(text, verifierKey): a C2SP checkpoint (a signed note: origin, tree
//   size, base64 root hash; signature lines "— <name> base64(keyhash4 || sig)") checked
//   against a note verifier key "<name>+<hex keyhash>+base64(0x01 || pubkey)", the
//   `note_verifier_key` of audit's /v1/audit/public-key (docs/checkpoints.md).
// - verifyInclusion(leafBytes, leafIndex, treeSize, auditPath, rootHash): the RFC 6962
//   leaf hash SHA-256(0x00 || leaf bytes), computed here from the raw leaf, proven to the
//   root by RFC 9162 section 2.1.3.2.
// - verifyBadge(element): both, for the leaves an element names (data-docket-verify).
//
// Malformed input (a key, a note, a hash of the wrong length, an index out of uint64)
// throws an Error saying what is wrong; a well-formed proof that does not prove the
// claim returns false. Callers must treat both as "not verified".

const HASH_SIZE = 32;
const ED25519_ALGORITHM = 0x01;
const SIGNATURE_LINE_START = "\u2014 ";
const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_PROOF_LENGTH = 128;
const encoder = new TextEncoder();

function fail(message) {
  throw new Error(message);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Strict standard base64 (with padding) to bytes. */
export function fromBase64(text) {
  if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    fail("not base64");
  }
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Lower- or upper-case hex to bytes. */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    fail("not hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function hashBytes(value, what) {
  const bytes = typeof value === "string" ? fromHex(value) : value;
  if (!(bytes instanceof Uint8Array) || bytes.length !== HASH_SIZE) {
    fail(`${what} is not a ${HASH_SIZE}-byte hash`);
  }
  return bytes;
}

function uint64(value, what) {
  let big;
  try {
    big = BigInt(value);
  } catch {
    fail(`${what} is not an integer`);
  }
  if (big < 0n || big > MAX_UINT64) fail(`${what} is outside 0..2^64-1`);
  return big;
}

/** SHA-256(0x00 || leaf): the RFC 6962 / 9162 leaf hash. */
export async function leafHash(leafBytes) {
  return sha256(concat(Uint8Array.of(0x00), new Uint8Array(leafBytes)));
}

async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(0x01), left, right));
}

/** A note verifier key "<name>+<8 hex digits>+base64(0x01 || 32-byte Ed25519 key)". */
export async function parseVerifierKey(verifierKey) {
  if (typeof verifierKey !== "string") fail("the verifier key is not text");
  // name, hash and key are split at the first two "+": base64 may hold more of them
  const text = verifierKey.trim();
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) fail("the verifier key is not name+hash+key");
  const [name, hashHex, keyText] = [
    text.slice(0, first),
    text.slice(first + 1, second),
    text.slice(second + 1),
  ];
  if (!name || /[\s\u2014]/.test(name)) fail("the verifier key's name is not a key name");
  if (!/^[0-9a-f]{8}$/.test(hashHex)) fail("the verifier key's hash is not 8 hex digits");
  const material = fromBase64(keyText);
  if (material.length !== 33 || material[0] !== ED25519_ALGORITHM) {
    fail("the verifier key is not an Ed25519 key");
  }
  const keyHash = (await sha256(concat(encoder.encode(`${name}\n`), material))).slice(0, 4);
  if (toHex(keyHash) !== hashHex) fail("the verifier key's hash does not match its key");
  const publicKey = await crypto.subtle.importKey(
    "raw",
    material.slice(1),
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  return { name, keyHash, publicKey };
}

/**
 * Check a C2SP checkpoint's signature by the verifier key's holder and read it.
 * Resolves to { origin, treeSize (BigInt), rootHash (Uint8Array), extensions };
 * rejects with an Error saying why it is not a valid checkpoint signed by that key.
 */
export async function verifyCheckpoint(text, verifierKey) {
  const key = await parseVerifierKey(verifierKey);
  if (typeof text !== "string") fail("the checkpoint is not text");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) fail("the checkpoint has no signatures");
  const body = text.slice(0, split + 1);
  const signatures = text.slice(split + 2);
  if (!signatures.endsWith("\n")) fail("the checkpoint's signatures do not end with a newline");
  let signed = false;
  for (const line of signatures.slice(0, -1).split("\n")) {
    if (!line.startsWith(SIGNATURE_LINE_START)) fail("a checkpoint signature line is malformed");
    const [name, encoded, ...rest] = line.slice(SIGNATURE_LINE_START.length).split(" ");
    if (rest.length || !name || !encoded) fail("a checkpoint signature line is malformed");
    const blob = fromBase64(encoded);
    if (blob.length < 5) fail("a checkpoint signature is too short");
    if (name !== key.name || !equalBytes(blob.slice(0, 4), key.keyHash)) continue;
    if (blob.length !== 4 + 64) fail("the checkpoint's Ed25519 signature is not 64 bytes");
    signed = await crypto.subtle.verify(
      { name: "Ed25519" },
      key.publicKey,
      blob.slice(4),
      encoder.encode(body),
    );
    if (!signed) fail(`the checkpoint's signature by ${key.name} is not valid`);
  }
  if (!signed) fail(`the checkpoint is not signed by ${key.name}`);
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) fail("the checkpoint has no origin, tree size and root hash");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin !== key.name) fail(`the checkpoint's origin ${origin} is not the key's ${key.name}`);
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText)) fail("the checkpoint's tree size is not a number");
  const treeSize = uint64(sizeText, "the checkpoint's tree size");
  const rootHash = fromBase64(rootText);
  if (rootHash.length !== HASH_SIZE) fail("the checkpoint's root hash is not 32 bytes");
  return { origin, treeSize, rootHash, extensions };
}

/**
 * RFC 9162 section 2.1.3.2: whether `auditPath` proves that the leaf whose hash is
 * `leafHashValue` is leaf `leafIndex` of the tree of `treeSize` leaves with root
 * `rootHash`. Hashes are Uint8Array or hex; indexes Number, BigInt or decimal text.
 */
export async function verifyInclusionHash(leafHashValue, leafIndex, treeSize, auditPath, rootHash) {
  const index = uint64(leafIndex, "the leaf index");
  const size = uint64(treeSize, "the tree size");
  const root = hashBytes(rootHash, "the root");
  let r = hashBytes(leafHashValue, "the leaf hash");
  const path = auditPath ?? [];
  if (!Array.isArray(path) || path.length > MAX_PROOF_LENGTH) fail("the audit path is malformed");
  const nodes = path.map((node, i) => hashBytes(node, `audit path node ${i}`));
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1n;
  for (const p of nodes) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalBytes(r, root);
}

/**
 * Whether the raw `leafBytes` (ArrayBuffer or Uint8Array: exactly what the log hashed)
 * are leaf `leafIndex` of the tree of `treeSize` with root `rootHash`, by `auditPath`
 * (hex strings, as audit's /v1/audit/proof/inclusion answers).
 */
export async function verifyInclusion(leafBytes, leafIndex, treeSize, auditPath, rootHash) {
  return verifyInclusionHash(await leafHash(leafBytes), leafIndex, treeSize, auditPath, rootHash);
}

async function fetchOk(url, what) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) fail(`${what} could not be read (HTTP ${response.status})`);
  return response;
}

function leafIndexesOf(element) {
  const text = element.dataset.leafIndexes ?? "";
  const indexes = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (!indexes.length) fail("the page names no events to verify");
  for (const part of indexes) if (!/^(0|[1-9][0-9]*)$/.test(part)) fail("an event's leaf index is not a number");
  return [...new Set(indexes)].map((part) => uint64(part, "a leaf index"));
}

function say(element, state, message, detail) {
  element.dataset.state = state;
  element.setAttribute("role", "status");
  element.setAttribute("aria-live", "polite");
  const target = element.querySelector("[data-verify-message]") ?? element;
  target.textContent = message;
  if (detail) element.title = detail;
  else element.removeAttribute("title");
}

async function verifyLeaf(element, index, checkpoint) {
  const size = checkpoint.treeSize;
  if (index >= size) fail(`event ${index} is not in the signed tree of ${size} events yet`);
  const proofUrl = new URL(element.dataset.proofUrl, document.baseURI);
  proofUrl.searchParams.set("leaf_index", index.toString());
  proofUrl.searchParams.set("tree_size", size.toString());
  const proof = await (await fetchOk(proofUrl, `the proof of event ${index}`)).json();
  if (BigInt(proof.leaf_index) !== index || BigInt(proof.tree_size) !== size) {
    fail(`the proof of event ${index} is for another leaf or tree`);
  }
  const leafUrl = `${element.dataset.leafUrl.replace(/\/$/, "")}/${index}`;
  const leaf = new Uint8Array(await (await fetchOk(leafUrl, `event ${index}`)).arrayBuffer());
  const computed = await leafHash(leaf);
  if (await verifyInclusionHash(computed, index, size, proof.audit_path, checkpoint.rootHash)) {
    return;
  }
  if (typeof proof.leaf_hash === "string" && proof.leaf_hash.toLowerCase() !== toHex(computed)) {
    fail(`event ${index} as stored now is not the event the signed log holds`);
  }
  fail(`event ${index} is not proven to be in the signed log`);
}

/**
 * Verify what `element` names (data-leaf-indexes, data-checkpoint-url, data-proof-url,
 * data-leaf-url, data-verifier-key), showing the outcome in data-state
 * ("checking", "verified", "failed") and in an accessible status text.
 * Resolves to true when every event verified.
 */
export async function verifyBadge(element) {
  say(element, "checking", "Checking in your browser that these events are in the signed log…");
  try {
    const indexes = leafIndexesOf(element);
    const text = await (await fetchOk(element.dataset.checkpointUrl, "the signed tree head")).text();
    const checkpoint = await verifyCheckpoint(text, element.dataset.verifierKey ?? "");
    for (const index of indexes) await verifyLeaf(element, index, checkpoint);
    const events = indexes.length === 1 ? "1 event" : `${indexes.length} events`;
    say(
      element,
      "verified",
      `Verified in your browser: ${events} of this page in the log signed by ` +
        `${checkpoint.origin} (tree size ${checkpoint.treeSize}).`,
      `root hash ${toHex(checkpoint.rootHash)}; leaves ${indexes.join(", ")}`,
    );
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    say(element, "failed", `Not verified: ${reason}.`);
    return false;
  }
}

for (const element of document.querySelectorAll("[data-docket-verify]")) {
  verifyBadge(element);
}
