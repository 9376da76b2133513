-- POST /api/tokens/verify, cycling through the tokens in the file named by TOKENS (one per line).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end
local i = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #tokens + 1
  return wrk.format(nil, "/api/tokens/verify", nil, '{"token":"' .. tokens[i] .. '"}')
end
