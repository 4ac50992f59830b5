/*
 * The protobuf-c messages between daemons (common/proto/): round trips,
 * presence of optional fields, forward compatibility (a newer sender's
 * unknown fields are skipped) and garbage that must fail cleanly.
 */
#include "unit/testutil.h"

#include <stdbool.h>

#include "callevent.pb-c.h"
#include "heartbeat.pb-c.h"

/* Packs any message into a malloc'd buffer. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), *len);
	return buf;
}

static void test_heartbeat_round_trip(void **state)
{
	(void)state;
	Vocal__Heartbeat hb = VOCAL__HEARTBEAT__INIT;
	hb.has_version = true;
	hb.version = 1;
	hb.has_type = true;
	hb.type = VOCAL__HEARTBEAT__SERVER_TYPE__REDIRECT;
	hb.group = "redirect-east";
	hb.host = "10.0.0.7";
	hb.has_sip_port = true;
	hb.sip_port = 5070;
	hb.has_load = true;
	hb.load = 0; /* present and zero: not the same as absent */
	hb.has_sequence = true;
	hb.sequence = UINT64_MAX;
	hb.has_state = true;
	hb.state = VOCAL__HEARTBEAT__STATE__DRAINING;
	hb.has_started_ms = true;
	hb.started_ms = 1764072000123ull;

	size_t len;
	uint8_t *buf = pack(&hb.base, &len);
	assert_true(len < 100); /* a datagram every 250 ms: keep it small */
	Vocal__Heartbeat *got = vocal__heartbeat__unpack(NULL, len, buf);
	assert_non_null(got);
	assert_true(got->has_version && got->version == 1);
	assert_true(got->has_type && got->type == VOCAL__HEARTBEAT__SERVER_TYPE__REDIRECT);
	assert_string_equal(got->group, "redirect-east");
	assert_string_equal(got->host, "10.0.0.7");
	assert_true(got->has_sip_port && got->sip_port == 5070);
	assert_true(got->has_load && got->load == 0);
	assert_true(got->has_sequence && got->sequence == UINT64_MAX);
	assert_true(got->has_state && got->state == VOCAL__HEARTBEAT__STATE__DRAINING);
	assert_true(got->has_started_ms && got->started_ms == 1764072000123ull);
	vocal__heartbeat__free_unpacked(got, NULL);
	free(buf);
}

static void test_absent_fields(void **state)
{
	(void)state;
	/* an older sender that only knows some fields */
	Vocal__Heartbeat hb = VOCAL__HEARTBEAT__INIT;
	hb.has_sequence = true;
	hb.sequence = 9;
	size_t len;
	uint8_t *buf = pack(&hb.base, &len);
	Vocal__Heartbeat *got = vocal__heartbeat__unpack(NULL, len, buf);
	assert_non_null(got);
	assert_true(got->has_sequence && got->sequence == 9);
	assert_false(got->has_load);
	assert_false(got->has_state);
	assert_int_equal(got->state, VOCAL__HEARTBEAT__STATE__STATE_UNKNOWN);
	assert_null(got->group);
	vocal__heartbeat__free_unpacked(got, NULL);
	free(buf);

	/* the empty message is valid: zero bytes */
	got = vocal__heartbeat__unpack(NULL, 0, (const uint8_t *)"");
	assert_non_null(got);
	assert_false(got->has_version);
	vocal__heartbeat__free_unpacked(got, NULL);
}

static void test_newer_sender(void **state)
{
	(void)state;
	/* A newer sender added field 100 (varint) and field 101 (bytes):
	 * today's receiver must skip both and read the rest. */
	Vocal__Heartbeat hb = VOCAL__HEARTBEAT__INIT;
	hb.has_load = true;
	hb.load = 42;
	hb.host = "h";
	size_t len;
	uint8_t *buf = pack(&hb.base, &len);
	static const uint8_t extra[] = {0xa0, 0x06, 0x07,            /* field 100, varint 7 */
					0xaa, 0x06, 0x02, 'h', 'i'}; /* field 101, "hi" */
	uint8_t *longer = malloc(len + sizeof(extra));
	memcpy(longer, buf, len);
	memcpy(longer + len, extra, sizeof(extra));
	Vocal__Heartbeat *got = vocal__heartbeat__unpack(NULL, len + sizeof(extra), longer);
	assert_non_null(got);
	assert_true(got->has_load && got->load == 42);
	assert_string_equal(got->host, "h");
	vocal__heartbeat__free_unpacked(got, NULL);
	free(longer);
	free(buf);

	/* ...and a state this receiver does not know arrives as the raw
	 * number: receivers range-check enums (common/proto/README.md) */
	static const uint8_t newstate[] = {0x40, 99, 0x30, 5}; /* state 99, load 5 */
	got = vocal__heartbeat__unpack(NULL, sizeof(newstate), newstate);
	assert_non_null(got);
	assert_true(got->has_state);
	assert_int_equal(got->state, 99);
	assert_int_equal(got->load, 5);
	vocal__heartbeat__free_unpacked(got, NULL);
}

static void test_callevent_round_trip(void **state)
{
	(void)state;
	Vocal__CallEvent ev = VOCAL__CALL_EVENT__INIT;
	ev.has_version = true;
	ev.version = 1;
	ev.marshal_id = "ua-marshal-1";
	ev.has_sequence = true;
	ev.sequence = 123456789;
	ev.has_kind = true;
	ev.kind = VOCAL__CALL_EVENT__KIND__END;
	ev.call_id = "a84b4c76e66710@pc33.atlanta.example.com";
	ev.from_uri = "sip:alice@atlanta.example.com";
	ev.to_uri = "sip:bob@biloxi.example.com";
	ev.caller_user = "alice";
	ev.callee_user = "bob";
	ev.has_time_ms = true;
	ev.time_ms = 1764072060000ull;
	ev.has_attempt_ms = true;
	ev.attempt_ms = 1764072000000ull;
	ev.has_answer_ms = true;
	ev.answer_ms = 1764072005000ull;
	ev.has_sip_status = true;
	ev.sip_status = 200;
	ev.has_disconnect = true;
	ev.disconnect = VOCAL__CALL_EVENT__DISCONNECT__CALLEE_BYE;
	ev.reason = "SIP;cause=200;text=\"Call completed elsewhere\"";
	ev.source = "[2001:db8::7]:5060";

	size_t len;
	uint8_t *buf = pack(&ev.base, &len);
	Vocal__CallEvent *got = vocal__call_event__unpack(NULL, len, buf);
	assert_non_null(got);
	assert_true(got->has_version && got->version == 1);
	assert_string_equal(got->marshal_id, "ua-marshal-1");
	assert_true(got->has_sequence && got->sequence == 123456789);
	assert_true(got->has_kind && got->kind == VOCAL__CALL_EVENT__KIND__END);
	assert_string_equal(got->call_id, ev.call_id);
	assert_string_equal(got->from_uri, ev.from_uri);
	assert_string_equal(got->to_uri, ev.to_uri);
	assert_string_equal(got->caller_user, "alice");
	assert_string_equal(got->callee_user, "bob");
	assert_true(got->has_time_ms && got->time_ms == ev.time_ms);
	assert_true(got->has_attempt_ms && got->attempt_ms == ev.attempt_ms);
	assert_true(got->has_answer_ms && got->answer_ms == ev.answer_ms);
	assert_true(got->has_sip_status && got->sip_status == 200);
	assert_true(got->has_disconnect &&
		    got->disconnect == VOCAL__CALL_EVENT__DISCONNECT__CALLEE_BYE);
	assert_string_equal(got->reason, ev.reason);
	assert_string_equal(got->source, ev.source);
	vocal__call_event__free_unpacked(got, NULL);
	free(buf);

	Vocal__CallEventAck ack = VOCAL__CALL_EVENT_ACK__INIT;
	ack.marshal_id = "ua-marshal-1";
	ack.has_sequence = true;
	ack.sequence = 123456789;
	buf = pack(&ack.base, &len);
	Vocal__CallEventAck *gotack = vocal__call_event_ack__unpack(NULL, len, buf);
	assert_non_null(gotack);
	assert_string_equal(gotack->marshal_id, "ua-marshal-1");
	assert_true(gotack->has_sequence && gotack->sequence == 123456789);
	vocal__call_event_ack__free_unpacked(gotack, NULL);
	free(buf);
}

static void test_garbage_fails_cleanly(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		uint8_t bytes[8];
		size_t len;
	} bad[] = {
		{"varint cut short", {0x08, 0xff}, 2},
		{"length past the end", {0x1a, 0x10, 'a'}, 3},
		{"wrong wire type for a known field", {0x0d, 1, 2, 3, 4}, 5},
		{"field number 0", {0x00, 0x01}, 2},
		{"varint of 11 bytes", {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8},
		{"end group without start", {0x0c}, 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Vocal__Heartbeat *hb = vocal__heartbeat__unpack(NULL, bad[i].len, bad[i].bytes);
		if (hb)
			fail_msg("heartbeat: %s unpacked", bad[i].what);
		Vocal__CallEvent *ev = vocal__call_event__unpack(NULL, bad[i].len, bad[i].bytes);
		if (ev)
			fail_msg("call event: %s unpacked", bad[i].what);
	}

	/* every truncation of a valid message: a clean NULL or a message
	 * (a cut between fields is a valid shorter message), never a crash
	 * or a read past the end (ASan) */
	Vocal__CallEvent ev = VOCAL__CALL_EVENT__INIT;
	ev.call_id = "abc@h";
	ev.from_uri = "sip:a@b";
	ev.has_sequence = true;
	ev.sequence = 1ull << 40;
	size_t len;
	uint8_t *buf = pack(&ev.base, &len);
	int failed = 0;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *part = malloc(cut ? cut : 1);
		memcpy(part, buf, cut);
		Vocal__CallEvent *got = vocal__call_event__unpack(NULL, cut, part);
		if (got)
			vocal__call_event__free_unpacked(got, NULL);
		else
			failed++;
		free(part);
	}
	assert_true(failed > 0);
	free(buf);

	/* random bytes */
	unsigned seed = 1;
	uint8_t rnd[64];
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (seed = seed * 1103515245 + 12345) % sizeof(rnd);
		for (size_t i = 0; i < n; i++)
			rnd[i] = (uint8_t)((seed = seed * 1103515245 + 12345) >> 16);
		Vocal__Heartbeat *hb = vocal__heartbeat__unpack(NULL, n, rnd);
		if (hb)
			vocal__heartbeat__free_unpacked(hb, NULL);
		Vocal__CallEvent *ce = vocal__call_event__unpack(NULL, n, rnd);
		if (ce)
			vocal__call_event__free_unpacked(ce, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heartbeat_round_trip),
		cmocka_unit_test(test_absent_fields),
		cmocka_unit_test(test_newer_sender),
		cmocka_unit_test(test_callevent_round_trip),
		cmocka_unit_test(test_garbage_fails_cleanly),
	};
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
