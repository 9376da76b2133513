// A client generated from IronAuth's OpenAPI document (openapi-typescript) and called through openapi-fetch, with
// nothing written by hand but this program. tsc type-checks it in strict mode first, so a document that makes
// optional fields required, loses the problem's code or omits a query parameter fails here.
// Environment: IRONAUTH_URL (the server's origin), IRONAUTH_ADMIN, IRONAUTH_PASSWORD.
import createClient from "openapi-fetch";
import type { paths } from "./generated/ironauth.js";

const baseUrl = process.env.IRONAUTH_URL!;
const client = createClient<paths>({ baseUrl });

const { data: signedIn, error: signInError } = await client.POST("/api/auth/login", {
  body: { username: process.env.IRONAUTH_ADMIN!, password: process.env.IRONAUTH_PASSWORD! },
});
if (!signedIn) {
  throw new Error(`login failed: ${JSON.stringify(signInError)}`);
}

const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${signedIn.access_token}` } });

// The README's example, with only some of the limits.
const { data: created, response: createdResponse } = await admin.POST("/api/tokens", {
  body: { name: "ci", scopes: ["users:read"], expires_in_days: 30, limits: { requests_per_second: 5, burst: 10, daily_requests: 10000 } },
});

const { data: page } = await admin.GET("/api/users", { params: { query: { limit: 1, role: "admin" } } });
const role: "admin" | "user" | "viewer" | undefined = page?.items[0]?.role;

const { error: missing, response: missingResponse } = await admin.GET("/api/users/{id}", { params: { path: { id: "no-such-user" } } });
const code: string | undefined = missing?.code;

console.log(JSON.stringify({
  created: createdResponse.status,
  prefix: created?.token.slice(0, 5),
  daily_cost: created?.metadata.limits?.daily_cost ?? null,
  page: page?.items.length,
  role,
  missing: missingResponse.status,
  code,
}));
