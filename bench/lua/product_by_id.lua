-- GET <PREFIX>/<id> for a random id from IDS_FILE (one per line), so requests spread over the
-- whole table rather than hitting one cached row.
local prefix = os.getenv("PREFIX") or "/api/v1/products"
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  ids[#ids + 1] = line
end

request = function()
  return wrk.format("GET", prefix .. "/" .. ids[math.random(#ids)])
end
