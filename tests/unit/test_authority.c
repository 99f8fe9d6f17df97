/* SPDX-License-Identifier: MIT */
/*
 * The creator's authority and the lineage of access: revocation through
 * grants, the hold bound on a fake clock, admission of constraints and who
 * pays, and the attachment states introspection shows.
 */
#include <string.h>

#include "unit.h"

/* A fake clock and the core's one timer, as the server's event loop gives them. */
struct clock {
	uint64_t now;
	uint64_t armed; /* the deadline last armed, 0 if disarmed */
	int arms;
};

static uint64_t clock_now(void *data)
{
	struct clock *clock = data;
	return clock->now;
}

static void clock_arm(void *data, uint64_t deadline)
{
	struct clock *clock = data;
	clock->armed = deadline;
	clock->arms++;
}

struct scene {
	struct clock clock;
	struct dmab_core *core;
	struct dmab_account *owner, *reader;
	struct dmab_handle *handle, *imported;
	struct dmab_token *token;
	struct recorder writer, read;
};

static void scene_init(struct scene *s, enum dmab_access access)
{
	*s = (struct scene){ 0 };
	struct dmab_core_options options = {
		.allocator = dmab_test_allocator(),
		.max_hold_ms = 100,
		.hooks = { .now_ms = clock_now, .arm_timer = clock_arm, .data = &s->clock },
	};
	char err[256] = "";
	s->core = dmab_core_create(&options, err, sizeof(err));
	if (s->core == NULL) {
		dmab_test_skip("allocator %s is unavailable: %s", options.allocator, err);
	}
	test_log[0] = '\0';
	s->clock.now = 1000;
	s->owner = dmab_account_create(s->core, 1, 1);
	s->reader = dmab_account_create(s->core, 2, 1);
	s->handle = test_buffer(s->owner, 16, 16);
	struct dmab_failure fail;
	s->token = dmab_token_create(s->handle, access, &fail);
	CHECK(s->token != NULL);
	s->imported = dmab_handle_import_token(s->reader, dmab_token_get_string(s->token), &fail);
	CHECK(s->imported != NULL);
	test_recorder_init(&s->writer, 'W');
	test_recorder_init(&s->read, 'R');
	test_attach(s->handle, s->owner, DMAB_ACCESS_READ_WRITE, 0, 0, &s->writer);
	test_map(&s->writer, DMAB_DIR_WRITE);
	test_attach(s->imported, s->reader, DMAB_ACCESS_READ, 0, 0, &s->read);
	test_map(&s->read, DMAB_DIR_READ);
}

static void scene_finish(struct scene *s)
{
	if (s->writer.att != NULL) {
		test_detach(&s->writer);
	}
	if (s->read.att != NULL) {
		test_detach(&s->read);
	}
	dmab_token_revoke(s->token);
	dmab_handle_destroy(s->imported);
	dmab_handle_destroy(s->handle);
	dmab_account_destroy(s->owner);
	dmab_account_destroy(s->reader);
	dmab_core_destroy(s->core);
}

DMAB_TEST(revoke_fails_the_importers_brackets_and_wakes_the_writer)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	test_begin(&s.read, DMAB_DIR_READ);
	test_begin(&s.writer, DMAB_DIR_WRITE);
	CHECK_EQ(s.writer.ready, 0);
	dmab_token_revoke(s.token);
	s.token = NULL;
	CHECK_EQ(s.read.failed, 1);
	CHECK_EQ(s.read.failure.reason, DMAB_REASON_REVOKED_TOKEN);
	CHECK_EQ(s.writer.ready, 1);
	CHECK(dmab_handle_is_revoked(s.imported));
	CHECK(!dmab_handle_is_revoked(s.handle));
	struct dmab_failure fail;
	CHECK(dmab_token_create(s.imported, DMAB_ACCESS_READ, &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_REVOKED_TOKEN);
	scene_finish(&s);
}

/* Revocation reaches what the importer shared on, however far, but nothing else. */
DMAB_TEST(revoke_cuts_the_whole_lineage_and_only_it)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	struct dmab_failure fail;
	struct dmab_token *onward = dmab_token_create(s.imported, DMAB_ACCESS_READ, &fail);
	CHECK(onward != NULL);
	struct dmab_account *third = dmab_account_create(s.core, 3, 1);
	struct dmab_handle *far = dmab_handle_import_token(third, dmab_token_get_string(onward),
		&fail);
	CHECK(far != NULL);
	struct dmab_token *sibling = dmab_token_create(s.handle, DMAB_ACCESS_READ, &fail);
	struct dmab_handle *spared = dmab_handle_import_token(third,
		dmab_token_get_string(sibling), &fail);
	CHECK(spared != NULL);
	struct dmab_handle *clone = dmab_handle_clone(far);

	dmab_token_revoke(s.token);
	s.token = NULL;
	CHECK(dmab_handle_is_revoked(far));
	CHECK(dmab_handle_is_revoked(clone));
	CHECK(!dmab_handle_is_revoked(spared));
	/* The onward token refuses imports too, though its holder still has it. */
	CHECK(dmab_handle_import_token(third, dmab_token_get_string(onward), &fail) == NULL);
	CHECK_EQ(fail.reason, DMAB_REASON_REVOKED_TOKEN);
	struct recorder late;
	test_recorder_init(&late, 'L');
	test_attach(far, third, DMAB_ACCESS_READ, 0, 0, &late);
	CHECK_EQ(late.failed, 1);
	CHECK_EQ(late.failure.reason, DMAB_REASON_REVOKED_TOKEN);
	test_detach(&late);

	dmab_handle_destroy(clone);
	dmab_handle_destroy(far);
	dmab_handle_destroy(spared);
	dmab_token_revoke(onward);
	dmab_token_revoke(sibling);
	dmab_account_destroy(third);
	scene_finish(&s);
}

/* A withdrawn token (its client gone) stops imports but leaves access alone. */
DMAB_TEST(withdraw_keeps_granted_access)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	dmab_token_withdraw(s.token);
	s.token = NULL;
	CHECK(!dmab_handle_is_revoked(s.imported));
	test_begin(&s.read, DMAB_DIR_READ);
	CHECK_EQ(s.read.ready, 1);
	CHECK_EQ(s.read.failed, 0);
	test_end(&s.read, DMAB_DIR_READ);
	scene_finish(&s);
}

DMAB_TEST(hold_bound_preempts_an_importers_bracket)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	test_begin(&s.read, DMAB_DIR_READ);
	CHECK_EQ(s.clock.arms, 0);
	test_begin(&s.writer, DMAB_DIR_WRITE);
	CHECK_EQ(s.clock.armed, 1100);

	s.clock.now = 1099;
	dmab_core_handle_timer(s.core);
	CHECK_EQ(s.read.failed, 0);
	CHECK_EQ(s.clock.armed, 1100);
	s.clock.now = 1100;
	dmab_core_handle_timer(s.core);
	CHECK_EQ(s.read.failed, 1);
	CHECK_EQ(s.read.failure.reason, DMAB_REASON_PREEMPTED);
	CHECK(strstr(s.read.failure.message, "100 ms") != NULL);
	CHECK_EQ(s.writer.ready, 1);
	CHECK_EQ(s.clock.armed, 0);
	test_end(&s.writer, DMAB_DIR_WRITE);
	scene_finish(&s);
}

/* A writer granted at once arms nothing: the common frame costs no timer. */
DMAB_TEST(hold_bound_arms_only_for_a_waiting_owner)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	for (int i = 0; i < 3; i++) {
		test_begin(&s.writer, DMAB_DIR_WRITE);
		test_end(&s.writer, DMAB_DIR_WRITE);
	}
	/* An importer waiting behind the owner gains no bound over the owner. */
	test_begin(&s.writer, DMAB_DIR_WRITE);
	test_begin(&s.read, DMAB_DIR_READ);
	s.clock.now += 10000;
	dmab_core_handle_timer(s.core);
	CHECK_EQ(s.writer.failed, 0);
	CHECK_EQ(s.read.ready, 0);
	CHECK_EQ(s.clock.arms, 1);
	test_end(&s.writer, DMAB_DIR_WRITE);
	CHECK_EQ(s.read.ready, 1);
	test_end(&s.read, DMAB_DIR_READ);
	scene_finish(&s);
}

/* The creator's own brackets, and the compositor's reads for it, are not preempted. */
DMAB_TEST(hold_bound_spares_the_owners_lineage)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	struct recorder compositor;
	test_recorder_init(&compositor, 'C');
	test_attach(s.handle, NULL, DMAB_ACCESS_READ, 0, 0, &compositor);
	test_map(&compositor, DMAB_DIR_READ);
	test_begin(&compositor, DMAB_DIR_READ);
	test_begin(&s.writer, DMAB_DIR_WRITE);
	s.clock.now += 1000;
	dmab_core_handle_timer(s.core);
	CHECK_EQ(compositor.failed, 0);
	CHECK_EQ(s.writer.ready, 0);
	/* The next round finds nothing either: the timer comes back after the bound. */
	CHECK_EQ(s.clock.armed, s.clock.now + 100);
	test_end(&compositor, DMAB_DIR_READ);
	CHECK_EQ(s.writer.ready, 1);
	test_detach(&compositor);
	scene_finish(&s);
}

DMAB_TEST(read_only_importer_cannot_reshape)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	struct dmab_buffer_stats before, after;
	CHECK(test_buffer_stats(s.core, 1, &before));
	struct recorder greedy;
	test_recorder_init(&greedy, 'G');
	test_attach(s.imported, s.reader, DMAB_ACCESS_READ, 0, 4096, &greedy);
	CHECK_EQ(greedy.failed, 1);
	CHECK_EQ(greedy.failure.reason, DMAB_REASON_UNSATISFIABLE);
	CHECK_EQ(s.writer.moved, 0);
	CHECK(test_buffer_stats(s.core, 1, &after));
	CHECK_EQ(after.layout.planes[0].stride, before.layout.planes[0].stride);
	CHECK_EQ(after.payer_pid, 1);
	struct dmab_attachment_stats stats;
	CHECK(test_attachment_stats(s.core, 1, 2, &stats));
	CHECK_EQ(stats.state, DMAB_ATTACHMENT_DEFUNCT);
	test_detach(&greedy);
	scene_finish(&s);
}

/* A read_write importer may move the storage; it pays, and the map waits meanwhile. */
DMAB_TEST(writer_importer_pays_for_the_move)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ_WRITE);
	struct recorder aligned;
	test_recorder_init(&aligned, 'A');
	test_attach(s.imported, s.reader, DMAB_ACCESS_READ, 0, 4096, &aligned);
	CHECK_EQ(aligned.failed, 0);
	CHECK_EQ(s.writer.moved, 1);
	test_map(&aligned, DMAB_DIR_READ);
	CHECK_EQ(aligned.mapped, 0);
	struct dmab_attachment_stats stats;
	CHECK(test_attachment_stats(s.core, 1, 0, &stats));
	CHECK_EQ(stats.state, DMAB_ATTACHMENT_MOVING);
	CHECK(test_attachment_stats(s.core, 1, 2, &stats));
	CHECK_EQ(stats.state, DMAB_ATTACHMENT_MAP_PENDING);

	test_unmap(&s.writer);
	test_unmap(&s.read);
	CHECK_EQ(aligned.mapped, 1);
	CHECK_EQ(aligned.mapping.planes[0].stride % 4096, 0);
	struct dmab_buffer_stats after;
	CHECK(test_buffer_stats(s.core, 1, &after));
	CHECK_EQ(after.payer_pid, 2);
	test_detach(&aligned);
	scene_finish(&s);
}

/* Serials: each answer names its request, and a withdrawn request is never answered. */
DMAB_TEST(answers_carry_serials)
{
	struct scene s;
	scene_init(&s, DMAB_ACCESS_READ);
	CHECK_EQ(s.writer.mapped_serial, 1);
	test_begin(&s.writer, DMAB_DIR_WRITE);
	test_begin(&s.read, DMAB_DIR_READ);
	test_end(&s.read, DMAB_DIR_READ);
	test_begin(&s.read, DMAB_DIR_READ);
	test_end(&s.writer, DMAB_DIR_WRITE);
	CHECK_EQ(s.read.ready, 1);
	CHECK_EQ(s.read.ready_serial, 2);
	test_end(&s.read, DMAB_DIR_READ);
	scene_finish(&s);
}
