-- The budget protocol under load, with the IC token in BEARER. MODE=handshake: POST /api/budgets/handshake for a tiny
-- slice (each call grants a new lease). MODE=report: POST /api/budgets/report against the lease in LEASE, each with a
-- report_id of its own (thread number and a counter), so every call is counted, none is a duplicate.
local mode = os.getenv("MODE")
local lease = os.getenv("LEASE") or ""
local threads = 0
id = 0 -- a global: setup() sets it per thread
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

request = function()
  if mode == "handshake" then
    return wrk.format(nil, "/api/budgets/handshake", nil, '{"requested_budget":0.000001}')
  end
  n = n + 1
  return wrk.format(nil, "/api/budgets/report", nil,
    '{"lease_id":"' .. lease .. '","report_id":"w' .. id .. '-' .. n .. '-' .. os.time() .. '","tokens":1200,"cost":0.0042}')
end
