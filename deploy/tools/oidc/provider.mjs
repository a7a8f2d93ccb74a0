// A real OpenID Connect provider for the console's sign-in tests: panva's oidc-provider
// (OpenID Certified), installed from npm by deploy/tools/oidc_provider.py, configured here.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json (written by tests/fixtures/oidc.py):
//   { "package": "<folder of the installed oidc-provider package>",
//     "port": 4000,
//     "issuer": "http://127.0.0.1:4000",
//     "initial_access_token": "...",   // guards dynamic client registration (/reg)
//     "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//     "accounts": { "<login>": { "name": "...", "docket_roles": ["legal"], ... } } }
//
// Every client uses the authorization code flow with PKCE required (S256 only) and
// authenticates to the token endpoint with its secret. The login page is the provider's
// own development interaction (any password; the login must be one of "accounts"), then
// its consent page. ID tokens are signed with an RSA key made fresh at every start, and
// carry the accounts' claims (name, docket_roles, groups, docket_national_security).
// Prints "oidc-provider listening on <issuer>" once it serves.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
// installed outside this folder (.cache/tools/), so imported by its path
const { default: Provider } = await import(pathToFileURL(join(config.package, "lib", "index.js")));

function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  return { ...jwk, kid: randomBytes(8).toString("hex"), alg: "RS256", use: "sig" };
}

const CLAIMS = ["name", "email", "docket_roles", "groups", "docket_national_security"];

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    ...client,
  })),
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  pkce: { required: () => true },
  scopes: ["openid", "profile", "email", "docket"],
  claims: {
    openid: ["sub"],
    profile: ["name"],
    email: ["email"],
    docket: ["docket_roles", "groups", "docket_national_security"],
  },
  // the ID token carries the claims of the granted scopes (the console reads it)
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true, initialAccessToken: config.initial_access_token },
  },
  async findAccount(_ctx, id) {
    const account = config.accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id };
        for (const name of CLAIMS) if (name in account) claims[name] = account[name];
        return claims;
      },
    };
  },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, IdToken: 300, AccessToken: 300 },
});
provider.proxy = false;

const server = provider.listen(config.port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
