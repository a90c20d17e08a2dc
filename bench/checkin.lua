-- wrk script for bench/checkin.py: POST /api/v1/checkins with one scan per request.
--
--   wrk -t2 -c64 -d15s -s bench/checkin.lua http://127.0.0.1:PORT -- FILE THREADS
--
-- FILE has one request a line: "<kiosk token>\t<scans JSON body>", made beforehand so
-- the client spends nothing on UUIDs or JSON. Thread i sends lines i, i+T, i+2T, ...
-- Every request is built once, in init (before wrk starts its clock). Counts per thread:
-- answers that say "accepted", statuses 4xx / 429 / 5xx, and how often a thread ran out
-- of lines and started again (a repeat is a retry, not a fresh scan: the bench refuses
-- such a run). done() prints one JSON line for the bench to read.

local threads = {}
local made = 0

function setup(thread)
   thread:set("id", made)
   made = made + 1
   table.insert(threads, thread)
end

function init(args)
   local path, count = args[1], tonumber(args[2])
   requests = {}
   local n = 0
   for line in io.lines(path) do
      if n % count == id then
         local tab = string.find(line, "\t", 1, true)
         local headers = {
            ["Authorization"] = "Bearer " .. string.sub(line, 1, tab - 1),
            ["Content-Type"] = "application/json",
         }
         requests[#requests + 1] =
            wrk.format("POST", "/api/v1/checkins", headers, string.sub(line, tab + 1))
      end
      n = n + 1
   end
   at, accepted, s4xx, s429, s5xx, wrapped = 0, 0, 0, 0, 0, 0
end

function request()
   at = at + 1
   if at > #requests then
      at, wrapped = 1, wrapped + 1
   end
   return requests[at]
end

function response(status, headers, body)
   if status == 200 then
      if string.find(body, '"result":%s*"accepted"') then
         accepted = accepted + 1
      end
   elseif status == 429 then
      s429 = s429 + 1
   elseif status >= 500 then
      s5xx = s5xx + 1
   elseif status >= 400 then
      s4xx = s4xx + 1
   end
end

function done(summary, latency, requests)
   local sums = { accepted = 0, s4xx = 0, s429 = 0, s5xx = 0, wrapped = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(sums) do
         sums[name] = sums[name] + thread:get(name)
      end
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
         .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, '
         .. '"p90_us": %d, "p99_us": %d, "max_us": %d, "accepted": %d, "s4xx": %d, '
         .. '"s429": %d, "s5xx": %d, "wrapped": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      sums.accepted, sums.s4xx, sums.s429, sums.s5xx, sums.wrapped))
end
