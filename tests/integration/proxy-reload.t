#!/bin/bash
# Proxies and SIGHUP: a proxy added by a reload answers, a removed one's
# port refuses connections, a proxy whose listener is unchanged keeps its
# open keep-alive connections (and takes changed settings for their next
# requests).  Under socket activation a passed socket whose
# FileDescriptorName= is a proxy's name is that proxy's listener.
. "$(dirname "$0")/lib.sh"

plan 13
LC_ALL=C
idp_start --lifetime 3600
fakeapi_start
P1=$(free_port)
P2=$(free_port "$P1")
P3=$(free_port "$P1" "$P2")
conf() { # conf [more sections...]: credential main, proxy one, and more
	write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
$(proxy_conf one "127.0.0.1:$P1" main)
$*
EOF_CONF
}
code_of() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }

# ka_get: GET /echo on the connection open on fd 3 and read the whole
# answer (Content-Length or chunked); prints its status, nothing when the
# connection is gone.
ka_get() {
	local line status len=0 chunked=no body n
	printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' "$P1" >&3 2>/dev/null || return 1
	IFS= read -r -t 5 line <&3 || return 1
	status=${line#* }
	status=${status%% *}
	while IFS= read -r -t 5 line <&3; do
		line=${line%$'\r'}
		[ -z "$line" ] && break
		case "${line,,}" in
		content-length:*) len=${line//[!0-9]/} ;;
		transfer-encoding:*chunked*) chunked=yes ;;
		esac
	done
	if [ "$chunked" = yes ]; then
		while IFS= read -r -t 5 line <&3; do
			line=${line%$'\r'}
			n=$((16#${line%%;*}))
			if [ "$n" -eq 0 ]; then
				IFS= read -r -t 5 line <&3
				break
			fi
			IFS= read -r -N "$n" -t 5 body <&3
			IFS= read -r -t 5 line <&3
		done
	elif [ "$len" -gt 0 ]; then
		IFS= read -r -N "$len" -t 5 body <&3
	fi
	echo "$status"
}

conf
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$P1"
exec 3<>"/dev/tcp/127.0.0.1/$P1"
is "$(ka_get)" 200 "a keep-alive connection to proxy one answers"

# Add a proxy.
conf "$(proxy_conf two "127.0.0.1:$P2" main)"
tbd_reload
wait_for 30 port_open "$P2"
is "$(code_of "http://127.0.0.1:$P2/echo")" 200 "a proxy added by SIGHUP answers"
is "$(ka_get)" 200 "the unchanged proxy's open connection survived the reload"
like "$(api /v1/proxies)" '"name": *"two"' "GET /v1/proxies lists the new proxy"

# Remove it.
conf
tbd_reload
code_of "http://127.0.0.1:$P2/echo" >/dev/null
is $? 7 "a proxy removed by SIGHUP: connection refused"
is "$(ka_get)" 200 "proxy one's connection survived that reload too"
list=$(api /v1/proxies)
[[ "$list" =~ \"name\":\ *\"one\" && ! "$list" =~ \"name\":\ *\"two\" ]]
ok $? "GET /v1/proxies lists proxy one and no longer two"

# A changed upstream with the same listener: the connection stays and its
# next request goes to the new upstream (a path fakeapi does not have).
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
[proxy "one"]
listen = 127.0.0.1:$P1
credential = main
upstream = $API_URL/api/elsewhere
EOF_CONF
tbd_reload
is "$(ka_get)" 404 "a changed proxy keeps its listener's connections and uses its new upstream"
exec 3<&-
tbd_stop
is $? 0 "SIGTERM: exit status 0"

# Socket activation: the API socket and the proxy's, named after it.
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
$(proxy_conf legacy "127.0.0.1:$P3" main)
EOF_CONF
rm -f "$SOCK"
systemd-socket-activate -l "$SOCK" -l "127.0.0.1:$P3" --fdname=tokenbrokerd.socket:legacy \
	"$TBD" -c "$T_DIR/tb.conf" >>"$T_DIR/daemon.log" 2>&1 &
TBD_PID=$!
wait_for 50 [ -S "$SOCK" ]
is "$(api_code /v1/health)" 200 "socket activation with two sockets: the API answers on its own"
is "$(code_of "http://127.0.0.1:$P3/echo")" 200 "the proxy answers on the socket named after it"
like "$(api /v1/proxies)" "\"listen\": *\"127\\.0\\.0\\.1:$P3\"" "and lists that listener"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
