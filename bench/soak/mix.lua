-- wrk script for bench/soak.sh: cycles through token classes and counts,
-- per class, responses whose status is not the expected one.  The class
-- travels in X-Class and comes back in the response (add_header), so the
-- check does not depend on the order of responses across connections.
--
-- Tokens come from files named by environment variables set by soak.sh:
--   SOAK_TOKENS_DIR/<class>.tok, classes and statuses in CLASSES below.

local CLASSES = {
  { name = "valid",    status = 200 },
  { name = "valid2",   status = 200 },   -- signed by the rotating key
  { name = "tampered", status = 401 },
  { name = "expired",  status = 401 },
  { name = "scope",    status = 403 },
  { name = "garbage",  status = 401 },
  { name = "none",     status = 401 },
}

local dir = os.getenv("SOAK_TOKENS_DIR")
local requests = {}
local expected = {}

for i, c in ipairs(CLASSES) do
  local f = assert(io.open(dir .. "/" .. c.name .. ".tok", "r"))
  local tok = f:read("*l")
  f:close()
  expected[c.name] = c.status
  local path = (c.name == "scope") and "/api/other" or "/api/ok"
  requests[i] = wrk.format("GET", path,
    { ["Host"] = "127.0.0.1", ["Authorization"] = "Bearer " .. tok,
      ["X-Class"] = c.name })
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  ok = 0
  bad = 0
  unknown = 0
  first_bad = ""
end

function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end

function response(status, headers, body)
  local class = headers["X-Class"]
  if class == nil or expected[class] == nil then
    unknown = unknown + 1
    if first_bad == "" then first_bad = "no class, status " .. status end
  elseif expected[class] == status then
    ok = ok + 1
  else
    bad = bad + 1
    if first_bad == "" then
      first_bad = class .. " got " .. status .. " want " .. expected[class]
    end
  end
end

function done(summary, latency, requests)
  local t_ok, t_bad, t_unknown, fb = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    t_ok = t_ok + t:get("ok")
    t_bad = t_bad + t:get("bad")
    t_unknown = t_unknown + t:get("unknown")
    if fb == "" then fb = t:get("first_bad") end
  end
  io.write(string.format("SOAK expected=%d unexpected=%d unclassified=%d first_unexpected=[%s]\n",
    t_ok, t_bad, t_unknown, fb))
  local e = summary.errors
  io.write(string.format("SOAK requests=%d connect=%d read=%d write=%d timeout=%d status=%d p99_ms=%.2f\n",
    summary.requests, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(99) / 1000))
end
