-- POST /api/tokens/verify, cycling through the tokens in the file named by TOKENS (one per line); with USAGE set,
-- each call also reports LLM usage (tokens and cost), as a gateway metering an LLM call does.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end
local usage = (os.getenv("USAGE") or "") ~= "" and ',"usage":{"tokens":1200,"cost":0.0042}' or ""
local i = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #tokens + 1
  return wrk.format(nil, "/api/tokens/verify", nil, '{"token":"' .. tokens[i] .. '"' .. usage .. '}')
end
