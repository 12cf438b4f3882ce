-- wrk script: each request submits the referral form of a different touchpoint,
-- naming three people, with the CSRF token that touchpoint's page carries (it is
-- bound to the link; no cookie) and a fresh submission key. Each line of the paths
-- file is "<path> <csrf token>"; it and the form body are written by the benchmark.

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    lines[#lines + 1] = line
  end
  return lines
end

local paths, tokens = {}, {}
for i, line in ipairs(read_lines(os.getenv("BENCH_SUBMIT_PATHS"))) do
  paths[i], tokens[i] = line:match("^(%S+) (%S+)$")
end
local body = read_lines(os.getenv("BENCH_SUBMIT_BODY"))[1]

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

function init(args)
  count = 0
  step = tonumber(os.getenv("BENCH_WRK_THREADS"))
  offset = tonumber(os.getenv("BENCH_SUBMIT_OFFSET") or "0")
end

function request()
  -- Thread t takes touchpoints t, t + step, t + 2 * step, ... after the offset (where
  -- the previous round stopped): no two requests share one.
  local index = offset + id + count * step + 1
  count = count + 1
  if index > #paths then
    index = (index - 1) % #paths + 1
  end
  local key = string.format("%08x%08x%016x", id, offset, count)
  return wrk.format(
    "POST",
    paths[index],
    {["Content-Type"] = "application/x-www-form-urlencoded"},
    body .. "&csrf_token=" .. tokens[index] .. "&submission_key=" .. key
  )
end
