/* SPDX-License-Identifier: MIT */
/* An intrusive doubly linked list, like wl_list, for code that knows no Wayland. */
#ifndef DMAB_CORE_LIST_H
#define DMAB_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct dmab_list {
	struct dmab_list *prev, *next;
};

static inline void dmab_list_init(struct dmab_list *list)
{
	list->prev = list;
	list->next = list;
}

static inline void dmab_list_insert(struct dmab_list *list, struct dmab_list *elm)
{
	elm->prev = list;
	elm->next = list->next;
	list->next = elm;
	elm->next->prev = elm;
}

/* Leaves elm self-linked, so removing it twice is harmless. */
static inline void dmab_list_remove(struct dmab_list *elm)
{
	elm->prev->next = elm->next;
	elm->next->prev = elm->prev;
	dmab_list_init(elm);
}

static inline bool dmab_list_empty(const struct dmab_list *list)
{
	return list->next == list;
}

#define dmab_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define dmab_list_for_each(pos, head, member) \
	for (pos = dmab_container_of((head)->next, __typeof__(*pos), member); \
	     &pos->member != (head); \
	     pos = dmab_container_of(pos->member.next, __typeof__(*pos), member))

#define dmab_list_for_each_safe(pos, tmp, head, member) \
	for (pos = dmab_container_of((head)->next, __typeof__(*pos), member), \
	     tmp = dmab_container_of(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (head); \
	     pos = tmp, tmp = dmab_container_of(pos->member.next, __typeof__(*pos), member))

#endif
