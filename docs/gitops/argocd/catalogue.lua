-- Argo CD health of netprofile's NetworkProfile, SharedResource and Baseline (docs/gitops in netprofile),
-- from the kstatus conditions netprofile writes. Argo CD runs custom health checks without Lua's standard
-- libraries: only base and table functions here.
--
--   Progressing  netprofile has not reported on this generation yet (status.observedGeneration, or Ready's
--                observedGeneration, behind metadata.generation; no Ready condition), or Reconciling=True
--                (a failed write netprofile retries by itself)
--   Degraded     Stalled=True: the object needs a fix (an invalid spec, a name clash with a policy netprofile
--                does not own, a policy Cilium rejected, a provider namespace that does not exist)
--   Healthy      Ready=True for the current generation

local generation = obj.metadata.generation
local status = obj.status
if status == nil or status.conditions == nil then
  return {status = "Progressing", message = "waiting for netprofile to report on this object"}
end
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration ~= generation then
  return {status = "Progressing", message = "netprofile has not reconciled generation " .. generation ..
    " yet (the status describes generation " .. status.observedGeneration .. ")"}
end

local ready, stalled, reconciling
for _, c in ipairs(status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  elseif c.type == "Reconciling" then
    reconciling = c
  end
end

local function text(c)
  return (c.reason or "") .. ": " .. (c.message or "")
end

if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = text(stalled)}
end
if reconciling ~= nil and reconciling.status == "True" then
  return {status = "Progressing", message = text(reconciling)}
end
if ready == nil then
  return {status = "Progressing", message = "waiting for netprofile to report on this object"}
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration ~= generation then
  return {status = "Progressing", message = "netprofile has not reconciled generation " .. generation .. " yet"}
end
if ready.status == "True" then
  return {status = "Healthy", message = text(ready)}
end
return {status = "Progressing", message = text(ready)}
