-- GET /api/v1/products/search with a random two-word query that matches some of the seeded
-- products, limit 20.
local queries = {
  "running+shoes", "merino+jacket", "waterproof+tent", "ceramic+mug", "wireless+headphones",
  "leather+backpack", "trail+running", "coffee+grinder", "insulated+bottle", "camping+stove",
  "carbon+helmet", "wool+socks", "yoga+mat", "vintage+lamp", "bamboo+towel",
}

request = function()
  return wrk.format("GET", "/api/v1/products/search?limit=20&q=" .. queries[math.random(#queries)])
end
