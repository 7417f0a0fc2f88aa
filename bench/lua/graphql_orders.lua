-- POST /graphql as TOKEN's user: a page of 20 orders with their items and each item's product.
local body = '{"query":"{ orders(limit: 20) { items { id status total createdAt items { '
  .. 'productId productName quantity price product { id name price inStock } } } '
  .. 'pagination { total } } }"}'

-- Set on wrk.headers, so the command line's headers (Accept-Encoding) go too.
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

request = function()
  return wrk.format("POST", "/graphql", nil, body)
end
