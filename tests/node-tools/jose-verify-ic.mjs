// Verifies an IronAuth IC token the way an agent's runtime or a Node service would: jose, keys from the discovery
// document's jwks_uri, explicit type ic+jwt (RFC 8725 §3.11) and the IC tokens' own audience.
// Usage: node jose-verify-ic.mjs <issuer> <audience> <token>; prints the verified claims as JSON.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, audience, token] = process.argv.slice(2);
const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer: discovery.issuer, audience, typ: "ic+jwt" });
console.log(JSON.stringify({
  typ: protectedHeader.typ, alg: protectedHeader.alg, sub: payload.sub, agent_id: payload.agent_id, budget_id: payload.budget_id,
  permissions: payload.permissions, jti: payload.jti,
}));
