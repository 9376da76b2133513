// Verifies an IronAuth access token the way a Node service would: jose, keys from the discovery document's jwks_uri.
// Usage: node jose-verify.mjs <issuer> <audience> <token>; prints the verified payload as JSON.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, audience, token] = process.argv.slice(2);
const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer: discovery.issuer, audience, typ: "at+jwt" });
console.log(JSON.stringify({ issuer: discovery.issuer, alg: protectedHeader.alg, sub: payload.sub, client_id: payload.client_id, scope: payload.scope }));
