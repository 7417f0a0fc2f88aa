-- POST /api/v1/auth/login as one of BENCH_USERS users (bench1@… to benchN@…), chosen at random
-- so that no email's lockout budget is shared by many concurrent requests.
local users = tonumber(os.getenv("BENCH_USERS") or "64")

-- Set on wrk.headers, so the command line's headers (Accept-Encoding) go too.
wrk.headers["Content-Type"] = "application/json"

request = function()
  local body = string.format(
    '{"email":"bench%d@example.com","password":"bench password 123"}', math.random(users))
  return wrk.format("POST", "/api/v1/auth/login", nil, body)
end
