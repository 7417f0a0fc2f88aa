-- POST /api/v1/orders: one unit of a random product from IDS_FILE, as the user of TOKEN.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  ids[#ids + 1] = line
end
-- Set on wrk.headers, so the command line's headers (Accept-Encoding) go too.
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

request = function()
  local body = string.format('{"items":[{"productId":"%s","quantity":1}]}', ids[math.random(#ids)])
  return wrk.format("POST", "/api/v1/orders", nil, body)
end
