-- Argo CD health check for streamreplay.io/LoadTest.
--
-- A LoadTest is one run of a load test: Progressing while it runs, Healthy once it Passed,
-- Degraded once it Failed (a threshold was broken), ended in Error (it could not be run or
-- measured) or was Aborted (stopped on request). The operator writes the phase, its message
-- and status.observedGeneration on every step; until it has seen the latest generation the
-- LoadTest is Progressing.
--
-- Only Lua's base library is used, so the script runs in Argo CD's default sandbox
-- (resource.customizations.useOpenLibs off). test/config runs it that way over the cases
-- of health_test.yaml.
local hs = {}

local function result(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local status = obj.status
if status == nil or status.phase == nil or status.phase == "" then
  return result("Progressing", "Waiting for the streamreplay operator to start the LoadTest")
end

local generation = obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  local seen = "none"
  if observed ~= nil then
    seen = tostring(observed)
  end
  return result("Progressing", "Waiting for the streamreplay operator to observe generation " ..
    tostring(generation) .. " (observed: " .. seen .. ")")
end

local phase = status.phase
local detail = ""
if status.message ~= nil and status.message ~= "" then
  detail = ": " .. status.message
end

if phase == "Pending" or phase == "Starting" or phase == "Running" or phase == "Draining" then
  local pods = status.readyPods
  if pods == nil or pods == "" then
    pods = "?"
  end
  return result("Progressing", phase .. ", " .. pods .. " pods ready" .. detail)
end
if phase == "Passed" then
  return result("Healthy", phase .. detail)
end
if phase == "Failed" or phase == "Error" or phase == "Aborted" then
  return result("Degraded", phase .. detail)
end
return result("Unknown", "Unknown LoadTest phase " .. phase)
