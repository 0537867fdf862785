/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ptlab_audit: page-table ctor and lock audit for the arm64 split PMD
 * ptlock lab. Shared declarations of main.c, walk.c, rules.c and efi.c.
 */
#ifndef PTLAB_H
#define PTLAB_H

#include <linux/mm_types.h>
#include <linux/seq_buf.h>
#include <linux/types.h>

enum pt_level { PT_PGD, PT_P4D, PT_PUD, PT_PMD, PT_PTE, PT_NR_LEVELS };
enum pt_mm { PT_INIT_MM, PT_EFI_MM, PT_TRAMP, PT_USER, PT_NR_MMS };

/*
 * What the ctors left in a table page, as bits so that a rule ("none|table")
 * and a fact that cannot be told apart (the ptl of a kernel without
 * ALLOC_SPLIT_PTLOCKS) are both masks: a page passes when they intersect.
 */
#define PT_NONE		BIT(0)	/* no ctor: not PageTable, no page->ptl */
#define PT_TABLE	BIT(1)	/* PageTable, no split lock */
#define PT_TABLE_PTL	BIT(2)	/* PageTable with page->ptl */
#define PT_PTL_ONLY	BIT(3)	/* page->ptl without PageTable: half a ctor */
#define PT_SUBPAGE	BIT(4)	/* a PGD smaller than a page, from a kmem_cache */

/* What pmd_lockptr() returns for a user PMD table. */
#define PT_LOCK_OWN	BIT(0)	/* the table's own split lock */
#define PT_LOCK_MM	BIT(1)	/* &mm->page_table_lock */
#define PT_LOCK_NULL	BIT(2)	/* split lock configured but never allocated */
#define PT_LOCK_OTHER	BIT(3)	/* some other page's lock */

struct pt_rules {
	u8 state[PT_NR_MMS][PT_NR_LEVELS];	/* PT_* masks, 0 = unchecked */
	u8 pmd_lock;				/* PT_LOCK_* mask, user mm only */
};

/* One table page found by a walk. */
struct pt_table {
	unsigned long pfn;
	unsigned long va;	/* first address the table maps */
	u8 level;
	u8 state;		/* PT_* */
	u8 lock;		/* PT_LOCK_*, tables holding PMD entries of user mms */
	u8 image:1;		/* in the kernel image (swapper_pg_dir, bm_pte, ...) */
};

/* Entries seen in the tables of one level. */
struct pt_level_stats {
	unsigned long entries;		/* not empty */
	unsigned long leaves;		/* mapping memory: blocks, THPs, ptes */
	unsigned long nonpresent;	/* swap, migration, ... */
};

#define PT_MAX_BAD	16

struct pt_walk {
	struct mm_struct *mm;	/* NULL for the trampoline */
	enum pt_mm kind;
	pgd_t *pgd;
	unsigned long base;	/* address mapped by pgd[0] */
	struct pt_table *tables;
	size_t nr_tables;
	size_t max_tables;
	struct pt_level_stats lvl[PT_NR_LEVELS];
	unsigned long nr_bad;
	unsigned long raced;
	char bad[PT_MAX_BAD][96];
	int err;
};

/* main.c */
/* What the kernel does not export, found at load time. */
struct pt_syms {
	struct mm_struct *init_mm;
	struct mm_struct *efi_mm;		/* NULL without CONFIG_EFI */
	pgd_t *tramp_pg_dir;			/* NULL without KPTI */
	void (*get_online_mems)(void);		/* NULL without memory hotplug */
	void (*put_online_mems)(void);
	unsigned long image_start;		/* _text */
	unsigned long image_end;		/* _end */
	unsigned long image_start_pfn;
	unsigned long image_end_pfn;
};

extern struct pt_syms ptlab_syms;

/* walk.c */
extern const char * const pt_level_names[PT_NR_LEVELS];
bool pt_level_folded(enum pt_level level);
unsigned long pt_table_span(enum pt_level level);
int pt_walk_mm(struct pt_walk *w);
void pt_walk_free(struct pt_walk *w);
pte_t *pt_lookup_pte(pgd_t *pgd, unsigned long addr, const char **why);

/* rules.c */
extern const char * const pt_mm_names[PT_NR_MMS];
int pt_rules_parse(char *text, struct pt_rules *rules);
void pt_rules_show(struct seq_buf *s, const struct pt_rules *rules);
void pt_report_geometry(struct seq_buf *s);
void pt_report_walk(struct seq_buf *s, const struct pt_walk *w,
		    const struct pt_rules *rules, const char *header);

/* efi.c */
int pt_efi_exercise(struct seq_buf *s, unsigned int threads,
		    unsigned int iterations);

#endif /* PTLAB_H */
