-- GET a random path from PATHS_FILE (one per line, query included), so a load spreads over
-- the ids, pages and words sampled from the whole database.
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do
  if line ~= "" then
    paths[#paths + 1] = line
  end
end

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
