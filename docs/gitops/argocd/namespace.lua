-- Argo CD health of a Namespace, from the conditions netprofile writes on it (docs/gitops in netprofile).
-- Argo CD runs custom health checks without Lua's standard libraries: only base and table functions here.
--
--   Healthy      no netprofile condition (netprofile does not manage the namespace), or NetworkPolicyReady=True
--   Suspended    the escape hatch is open (NetworkPolicyEnforcementDisabled=True) or the namespace is in audit
--                mode (NetworkPolicyAudit=True): deliberate, loud in Prometheus alerts, not a failure
--   Progressing  NetworkPolicyReady=False with reason ApplyFailed (netprofile retries by itself), or Unknown
--   Degraded     everything else netprofile reports as not in effect: a refused label, an unknown or invalid
--                profile or resource, a name clash, a policy Cilium rejected, a failing baseline or provider,
--                an enforcement value netprofile does not understand, a bypass or audit that ended while its
--                label stays
-- The worst of the three conditions wins; the message names each condition at that level.

local rank = {Healthy = 1, Suspended = 2, Progressing = 3, Degraded = 4}
local worst = "Healthy"
local messages = {}
local managed = false

local function note(health, c)
  managed = true
  local text = c.type .. " " .. (c.reason or "") .. ": " .. (c.message or "")
  if rank[health] > rank[worst] then
    worst = health
    messages = {text}
  elseif health == worst then
    table.insert(messages, text)
  end
end

-- The reasons of an open escape hatch; the condition is also True, with another reason, when the label asks
-- for a bypass that is not in effect (a name clash) or is not understood.
local bypassOpen = {
  EnforcementDisabled = true,
  EnforcementDisabledWarning = true,
  EnforcementDisabledCritical = true,
}

if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "NetworkPolicyReady" then
      if c.status == "True" then
        note("Healthy", c)
      elseif c.status == "False" and c.reason ~= "ApplyFailed" then
        note("Degraded", c)
      else
        note("Progressing", c)
      end
    elseif c.type == "NetworkPolicyEnforcementDisabled" then
      if c.status == "True" and bypassOpen[c.reason] then
        note("Suspended", c)
      else
        note("Degraded", c)
      end
    elseif c.type == "NetworkPolicyAudit" then
      if c.status == "True" and c.reason == "AuditMode" then
        note("Suspended", c)
      else
        note("Degraded", c)
      end
    end
  end
end

if not managed then
  return {status = "Healthy", message = "no netprofile condition: netprofile does not manage this namespace's network policy"}
end
return {status = worst, message = table.concat(messages, "; ")}
