-- POST /graphql: product(id) with the REST object's fields, for a random id from IDS_FILE.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  ids[#ids + 1] = line
end
local query = "query($id: ID!) { product(id: $id) { id name description price inStock archived "
  .. "category { id name } averageRating reviewCount createdAt updatedAt } }"

-- Set on wrk.headers, so the command line's headers (Accept-Encoding) go too.
wrk.headers["Content-Type"] = "application/json"

request = function()
  local body = '{"query":"' .. query .. '","variables":{"id":"' .. ids[math.random(#ids)] .. '"}}'
  return wrk.format("POST", "/graphql", nil, body)
end
