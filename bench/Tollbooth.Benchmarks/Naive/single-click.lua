-- wrk script: POST /v1/clicks with one click per request (about 275 bytes), each with a fresh click_id.
-- Arguments: <run prefix> <api key>.
local counter = 0
local prefix = ""
local next_thread = 0

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  prefix = args[1] .. "-" .. thread_number .. "-"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Api-Key"] = args[2]
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"click_id":"%s%d","ad_id":"ad%d","advertiser_id":"adv%d","campaign_id":"camp%d","publisher_id":"pub7",' ..
    '"user_id":"u%d","ip":"203.0.113.%d","country":"US","device":"mobile",' ..
    '"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0","cost_micros":1250}',
    prefix, counter, counter % 1000, counter % 100, counter % 500, counter % 100000, counter % 250)
  return wrk.format(nil, "/v1/clicks", nil, body)
end
