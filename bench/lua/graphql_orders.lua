-- POST /graphql as TOKEN's user: a page of 20 orders with their items and each item's product.
local body = '{"query":"{ orders(limit: 20) { items { id status total createdAt items { '
  .. 'productId productName quantity price product { id name price inStock } } } '
  .. 'pagination { total } } }"}'

request = function()
  return wrk.format("POST", "/graphql", {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. os.getenv("TOKEN"),
  }, body)
end
