"""Version-specific texts of the Fluentd simulator: what each Fluentd release writes.

Taken from real Fluentd runs (shared/fixtures/fluentd: v1.14.4 and v1.16.11 with fluent-plugin-s3 v1.8.5)
and from Fluentd's source (lib/fluent/log.rb, plugin/output.rb, supervisor.rb, plugin_helper/retry_state.rb).
"""

# Per simulated release.  "1.14.0" is the old message set (retry_time=/next_retry_seconds=,
# "failed to flush the buffer, and hit limit for retries ..."); "1.14" is v1.14.4 as in the fixtures.
#   interval_offset: ExponentialBackOffRetry#calc_interval(num) = wait * base ** (num + offset)
#                    (v1.14.4 fixture: 1,1,2,4,8 s; v1.16.11 fixture: 1,2,4 s)
#   suppress_stacktrace: a repeated backtrace becomes "suppressed same stacktrace" (seen in v1.14.4,
#                    not in v1.16.11 where every failure prints the whole backtrace)
#   caller:          line numbers of fluent/log.rb in the `file.rb:line:meth: ` segment (debug mode)
_LOG_RB_114 = {"trace": 288, "debug": 309, "info": 330, "warn": 351, "error": 372, "fatal": 393}
_LOG_RB_116 = {"trace": 320, "debug": 341, "info": 362, "warn": 383, "error": 404, "fatal": 425}
VERSIONS = {
    "1.14.0": {"fluentd": "1.14.0", "ruby": "2.7.4", "old_retry_messages": True, "interval_offset": -1,
               "init_logger_lines": False, "suppress_stacktrace": True, "monitor_retry": True,
               "evacuate_on_limit": False, "buffer_instance": 2540, "graceful_reload_rpc": False,
               "caller": _LOG_RB_114, "output_rb": (1179, 1491, 499)},
    "1.14": {"fluentd": "1.14.4", "ruby": "3.1.2", "old_retry_messages": False, "interval_offset": -1,
             "init_logger_lines": False, "suppress_stacktrace": True, "monitor_retry": True,
             "evacuate_on_limit": False, "buffer_instance": 2540, "graceful_reload_rpc": False,
             "caller": _LOG_RB_114, "output_rb": (1179, 1491, 499)},
    "1.16": {"fluentd": "1.16.11", "ruby": "3.1.2", "old_retry_messages": False, "interval_offset": 0,
             "init_logger_lines": True, "suppress_stacktrace": False, "monitor_retry": True,
             "evacuate_on_limit": False, "buffer_instance": 2580, "graceful_reload_rpc": True,
             "caller": _LOG_RB_116, "output_rb": (1225, 1538, 510)},
    "1.19": {"fluentd": "1.19.0", "ruby": "3.4.1", "old_retry_messages": False, "interval_offset": 0,
             "init_logger_lines": True, "suppress_stacktrace": False, "monitor_retry": False,
             "evacuate_on_limit": True, "buffer_instance": 2580, "graceful_reload_rpc": True,
             "caller": _LOG_RB_116, "output_rb": (1225, 1538, 510)},
}

FORCE_PATH_STYLE_WARNING = ("'force_path_style' parameter is deprecated: S3 will drop path style API in 2020: "
                            "See https://aws.amazon.com/blogs/aws/amazon-s3-path-deprecation-plan-the-rest-of-the-story/")
DEFAULT_KEY_WARNING = ("The default value of s3_object_key_format will use ${chunk_id} instead of %{index} "
                       "to avoid object conflict in v2")
PARALLEL_KEY_WARNING = ("No ${chunk_id}, %{uuid_flush} or %{hex_random} in s3_object_key_format with multiple "
                        "flush threads or multiple workers. Recommend to set ${chunk_id}, %{uuid_flush} or "
                        "%{hex_random} to avoid data lost by object conflict")
CHECK_OBJECT_FALSE_WARNING = ("Set 'check_object false' and s3_object_key_format is not specified. Use "
                              "'%{path}/%{time_slice}_%{hms_slice}.%{file_extension}' for s3_object_key_format")
CHECK_OBJECT_FALSE_KEY_WARNING = ("Set 'check_object false' and s3_object_key_format is specified. Check "
                                  "s3_object_key_format is unique in each write. If not, existing file will be "
                                  "overwritten.")

RPC_HANDLERS = ["/api/processes.interruptWorkers", "/api/processes.killWorkers",
                "/api/processes.flushBuffersAndKillWorkers", "/api/plugins.flushBuffers",
                "/api/config.reload", "/api/config.dump"]

# Ruby + aws-sdk frames of a connection failure inside out_s3's `exists?` check (the HEAD), as recorded.
NETWORK_BACKTRACE_SDK = [
    "/usr/lib/ruby/3.1.0/socket.rb:1214:in `__connect_nonblock'",
    "/usr/lib/ruby/3.1.0/socket.rb:1214:in `connect_nonblock'",
    "/usr/lib/ruby/3.1.0/socket.rb:56:in `connect_internal'",
    "/usr/lib/ruby/3.1.0/socket.rb:137:in `connect'",
    "/usr/lib/ruby/3.1.0/socket.rb:642:in `block in tcp'",
    "/usr/lib/ruby/3.1.0/socket.rb:227:in `each'",
    "/usr/lib/ruby/3.1.0/socket.rb:227:in `foreach'",
    "/usr/lib/ruby/3.1.0/socket.rb:632:in `tcp'",
    "/usr/lib/ruby/3.1.0/net/http.rb:998:in `connect'",
    "/usr/lib/ruby/3.1.0/net/http.rb:976:in `do_start'",
    "/usr/lib/ruby/3.1.0/net/http.rb:971:in `start'",
    "/usr/lib/ruby/3.1.0/delegate.rb:87:in `method_missing'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/net_http/connection_pool.rb:307:in `start_session'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/net_http/connection_pool.rb:100:in `session_for'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/net_http/handler.rb:128:in `session'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/net_http/handler.rb:76:in `transmit'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/net_http/handler.rb:50:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/plugins/content_length.rb:24:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/plugins/request_callback.rb:87:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/s3_signer.rb:71:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/s3_host_id.rb:17:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/xml/error_handler.rb:10:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/sign.rb:47:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/transfer_encoding.rb:26:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/helpful_socket_errors.rb:12:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/s3_signer.rb:48:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/redirects.rb:20:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:360:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:394:in `retry_request'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:382:in `retry_if_possible'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:371:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:394:in `retry_request'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:382:in `retry_if_possible'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:371:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:394:in `retry_request'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:382:in `retry_if_possible'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/retry_errors.rb:371:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/http_checksum.rb:19:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/endpoint_pattern.rb:30:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/checksum_algorithm.rb:136:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/expect_100_continue.rb:23:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/bucket_name_restrictions.rb:21:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/rest/handler.rb:10:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/recursion_detection.rb:18:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/user_agent.rb:13:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/endpoints.rb:41:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/plugins/endpoint.rb:47:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/param_validator.rb:26:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/sse_cpk.rb:24:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/dualstack.rb:21:in `call'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/plugins/accelerate.rb:43:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/checksum_algorithm.rb:111:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/jsonvalue_converter.rb:16:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/idempotency_token.rb:19:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/param_converter.rb:26:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/plugins/request_callback.rb:71:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/plugins/response_paging.rb:12:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/plugins/response_target.rb:24:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/seahorse/client/request.rb:72:in `send_request'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/poller.rb:65:in `send_request'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/poller.rb:51:in `call'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:107:in `block in poll'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:104:in `loop'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:104:in `poll'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:94:in `block (2 levels) in wait'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:93:in `catch'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:93:in `block in wait'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:92:in `catch'",
    "/usr/share/rubygems-integration/all/gems/aws-sdk-core-3.168.1/lib/aws-sdk-core/waiters/waiter.rb:92:in `wait'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/waiters.rb:200:in `wait'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/object.rb:461:in `wait_until_exists'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/object.rb:442:in `exists?'",
]
S3_EXISTS_FRAME = "/opt/fluent-plugin-s3-v1.8.5/lib/fluent/plugin/out_s3.rb:331:in `write'"
S3_PUT_FRAMES = [
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/client.rb:12369:in `put_object'",
    "/usr/lib/ruby/vendor_ruby/aws-sdk-s3/object.rb:1572:in `put'",
    "/opt/fluent-plugin-s3-v1.8.5/lib/fluent/plugin/out_s3.rb:381:in `write'",
]
UNRECOVERABLE_FRAMES = [
    "/opt/fluent-plugin-s3-v1.8.5/lib/fluent/plugin/s3_compressor_gzip_command.rb:39:in `compress'",
    "/opt/fluent-plugin-s3-v1.8.5/lib/fluent/plugin/out_s3.rb:363:in `write'",
]


def fluentd_frames(version):
    """The four Fluentd frames under out_s3#write for a release."""
    v = VERSIONS[version]
    try_flush, flush_thread_run, start = v["output_rb"]
    base = "/opt/fluentd-v%s/lib/fluent" % v["fluentd"]
    return [f"{base}/plugin/output.rb:{try_flush}:in `try_flush'",
            f"{base}/plugin/output.rb:{flush_thread_run}:in `flush_thread_run'",
            f"{base}/plugin/output.rb:{start}:in `block (2 levels) in start'",
            f"{base}/plugin_helper/thread.rb:78:in `block in thread_create'"]
