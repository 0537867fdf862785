// SPDX-License-Identifier: GPL-2.0
/*
 * Rules and reports. The module knows how to tell the states of a table
 * page apart; which state each (mm, level) must be in is the host's
 * business: it derives the rules from the series step's promises and the
 * plan writes them to the "rules" file, and every audit checks each table
 * page against them (too many pages to print them all for the host). The
 * geometry is only reported, as facts the host judges.
 */
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/string.h>
#include <linux/vmstat.h>
#include <asm/pgalloc.h>

#include "ptlab.h"

const char * const pt_mm_names[PT_NR_MMS] = {
	"init_mm", "efi_mm", "tramp", "user"
};

/* Index = bit of the PT_* state; rules may name the first three only. */
static const char * const pt_state_names[] = {
	"none", "table", "table+ptl", "ptl-only", "subpage"
};

#define PT_RULE_STATES	3

/* Index = bit of the PT_LOCK_* value; rules may name the first two. */
static const char * const pt_lock_names[] = { "own", "mm", "null", "other" };

#define PT_RULE_LOCKS	2

/* Violations listed per result; the count in TABLE is always complete. */
#define PT_MAX_LISTED	32

static const char *pt_mask_str(char *buf, size_t len, u8 mask,
			       const char * const *names, unsigned int n)
{
	unsigned int i;
	size_t used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if (mask & BIT(i))
			used += scnprintf(buf + used, len - used, "%s%s",
					  used ? "|" : "", names[i]);
	return used ? buf : "-";
}

static int pt_parse_mask(char *val, const char * const *names, unsigned int n,
			 u8 *mask)
{
	char *alt;
	int i;

	*mask = 0;
	while ((alt = strsep(&val, "|"))) {
		i = match_string(names, n, alt);
		if (i < 0)
			return -EINVAL;
		*mask |= BIT(i);
	}
	return 0;
}

static int pt_parse_rule(const char *key, char *val, struct pt_rules *r)
{
	const char *dot;
	char name[16];
	int mm, lvl;

	if (!strcmp(key, "user.pmd_lock"))
		return pt_parse_mask(val, pt_lock_names, PT_RULE_LOCKS,
				     &r->pmd_lock);

	dot = strchr(key, '.');
	if (!dot || dot - key >= sizeof(name))
		return -ENOENT;
	strscpy(name, key, dot - key + 1);
	mm = match_string(pt_mm_names, PT_NR_MMS, name);
	lvl = match_string(pt_level_names, PT_NR_LEVELS, dot + 1);
	if (mm < 0 || lvl < 0)
		return -ENOENT;
	return pt_parse_mask(val, pt_state_names, PT_RULE_STATES,
			     &r->state[mm][lvl]);
}

/*
 * "k:v,k:v ..." (commas, blanks or newlines between rules), or "clear".
 * The whole set is replaced; on any error nothing changes.
 */
int pt_rules_parse(char *text, struct pt_rules *rules)
{
	struct pt_rules r = { };
	char *tok, *val;
	int n = 0, err;

	text = strim(text);
	if (!strcmp(text, "clear")) {
		*rules = r;
		return 0;
	}
	while ((tok = strsep(&text, ", \t\n"))) {
		if (!*tok)
			continue;
		val = strchr(tok, ':');
		if (!val) {
			pr_warn("ptlab_audit: rules: '%s' is not key:value\n",
				tok);
			return -EINVAL;
		}
		*val++ = '\0';
		err = pt_parse_rule(tok, val, &r);
		if (err == -ENOENT) {
			pr_warn("ptlab_audit: rules: unknown key '%s'\n", tok);
			return -EINVAL;
		}
		if (err) {
			pr_warn("ptlab_audit: rules: bad value '%s' for '%s'\n",
				val, tok);
			return -EINVAL;
		}
		n++;
	}
	if (!n) {
		pr_warn("ptlab_audit: rules: empty (write 'clear' to drop them)\n");
		return -EINVAL;
	}
	*rules = r;
	return 0;
}

void pt_rules_show(struct seq_buf *s, const struct pt_rules *r)
{
	char buf[48];
	int mm, lvl;

	if (r->pmd_lock)
		seq_buf_printf(s, "user.pmd_lock:%s\n",
			       pt_mask_str(buf, sizeof(buf), r->pmd_lock,
					   pt_lock_names, PT_RULE_LOCKS));
	for (mm = 0; mm < PT_NR_MMS; mm++)
		for (lvl = 0; lvl < PT_NR_LEVELS; lvl++)
			if (r->state[mm][lvl])
				seq_buf_printf(s, "%s.%s:%s\n", pt_mm_names[mm],
					       pt_level_names[lvl],
					       pt_mask_str(buf, sizeof(buf),
							   r->state[mm][lvl],
							   pt_state_names,
							   PT_RULE_STATES));
}

/* ---- geometry ---- */

static void pt_result(struct seq_buf *s, int n, bool ok, const char *name,
		      const char *skip)
{
	if (skip)
		seq_buf_printf(s, "ok %d %s # SKIP %s\n", n, name, skip);
	else
		seq_buf_printf(s, "%sok %d %s\n", ok ? "" : "not ", n, name);
}

/*
 * The geometry the kernel was built with, seen from inside it: the facts
 * the host compares with what the config at this step promises (page size,
 * levels, VA bits, PMD_SIZE, whether the PMD is folded, and
 * USE_SPLIT_PMD_PTLOCKS, i.e. ARCH_ENABLE_SPLIT_PMD_PTLOCK and enough CPUs).
 */
void pt_report_geometry(struct seq_buf *s)
{
	unsigned long pt = global_node_page_state(NR_PAGETABLE);
	unsigned long spt = global_node_page_state(NR_SECONDARY_PAGETABLE);
	bool pmd_folded = pt_level_folded(PT_PMD);

	seq_buf_printf(s, "KTAP version 1\n");
	seq_buf_printf(s,
		       "# PAGE_SIZE=%lu levels=%d VA_BITS=%d PGD_SIZE=%lu PTRS_PER_PGD=%d PMD_SIZE=%lu\n",
		       PAGE_SIZE, CONFIG_PGTABLE_LEVELS, VA_BITS,
		       (unsigned long)PGD_SIZE, PTRS_PER_PGD,
		       (unsigned long)PMD_SIZE);
	seq_buf_printf(s, "# folded: p4d=%d pud=%d pmd=%d\n",
		       pt_level_folded(PT_P4D), pt_level_folded(PT_PUD),
		       pmd_folded);
	seq_buf_printf(s,
		       "# USE_SPLIT_PTE_PTLOCKS=%d USE_SPLIT_PMD_PTLOCKS=%d ALLOC_SPLIT_PTLOCKS=%d\n",
		       USE_SPLIT_PTE_PTLOCKS, USE_SPLIT_PMD_PTLOCKS,
		       ALLOC_SPLIT_PTLOCKS);
	seq_buf_printf(s,
		       "# NR_PAGETABLE=%lu pages (%lu kB) NR_SECONDARY_PAGETABLE=%lu pages (%lu kB)\n",
		       pt, pt << (PAGE_SHIFT - 10), spt,
		       spt << (PAGE_SHIFT - 10));
	seq_buf_printf(s,
		       "# TABLE geometry page_size=%lu levels=%d va_bits=%d pmd_size=%lu pgd_size=%lu p4d=%s pud=%s pmd=%s use_split_pte_ptlocks=%d use_split_pmd_ptlocks=%d alloc_split_ptlocks=%d nr_pagetable=%lu nr_secondary_pagetable=%lu\n",
		       PAGE_SIZE, CONFIG_PGTABLE_LEVELS, VA_BITS,
		       (unsigned long)PMD_SIZE, (unsigned long)PGD_SIZE,
		       pt_level_folded(PT_P4D) ? "folded" : "present",
		       pt_level_folded(PT_PUD) ? "folded" : "present",
		       pmd_folded ? "folded" : "present",
		       USE_SPLIT_PTE_PTLOCKS, USE_SPLIT_PMD_PTLOCKS,
		       ALLOC_SPLIT_PTLOCKS, pt, spt);
	seq_buf_printf(s,
		       "# ptlab-fact audit page_size=%lu levels=%d va_bits=%d pmd_size=%lu pmd=%s split_pmd=%s\n",
		       PAGE_SIZE, CONFIG_PGTABLE_LEVELS, VA_BITS,
		       (unsigned long)PMD_SIZE,
		       pmd_folded ? "pmd_folded" : "pmd_present",
		       USE_SPLIT_PMD_PTLOCKS ? "on" : "off");
	seq_buf_printf(s, "1..1\n");
	pt_result(s, 1, !seq_buf_has_overflowed(s), "geometry.reported", NULL);
}

/* ---- table audits ---- */

struct pt_summary {
	unsigned long pages;
	unsigned long pagetable;
	unsigned long ptl;
	unsigned long image;
	unsigned long subpage;
	unsigned long lock_own;
	unsigned long lock_mm;
	unsigned long lock_other;
	unsigned long violations;
	unsigned long va_max;	/* the highest address a table maps */
};

/*
 * A table page is in one of the states its (mm, level) rule allows. A PGD
 * that is a slab object can carry no ctor: it passes "none" and only that.
 */
static bool pt_state_ok(const struct pt_table *t, u8 allowed)
{
	u8 state = t->state;

	if (state & PT_SUBPAGE)
		state |= PT_NONE;
	return state & allowed;
}

/*
 * pmd_lockptr() of a user mm hands out the lock the rule names: the PMD
 * table's own split lock, or &mm->page_table_lock (split PMD lock off, or
 * the PMD folded, where the PMD entries sit in the PGD).
 */
static bool pt_pmd_lock_ok(const struct pt_table *t, u8 allowed)
{
	return t->lock & allowed;
}

static void pt_list_page(struct seq_buf *s, const char *test,
			 const struct pt_table *t, const char *found,
			 const char *required)
{
	unsigned long span = pt_table_span(t->level);

	seq_buf_printf(s, "# %s: level=%s pfn=%#lx va=%#lx-%#lx found=%s required=%s%s\n",
		       test, pt_level_names[t->level], t->pfn, t->va,
		       t->va + span - 1, found, required,
		       t->image ? " (kernel image)" : "");
}

static void pt_summarize(const struct pt_walk *w, const struct pt_rules *r,
			 struct pt_summary *sum)
{
	const struct pt_table *t;
	size_t i;

	memset(sum, 0, sizeof(*sum) * PT_NR_LEVELS);
	for (i = 0; i < w->nr_tables; i++) {
		struct pt_summary *l;
		u8 rule;

		t = &w->tables[i];
		l = &sum[t->level];
		rule = r->state[w->kind][t->level];
		l->pages++;
		l->pagetable += !!(t->state & (PT_TABLE | PT_TABLE_PTL));
		l->ptl += !!(t->state & (PT_TABLE_PTL | PT_PTL_ONLY));
		l->image += t->image;
		l->subpage += !!(t->state & PT_SUBPAGE);
		l->va_max = max(l->va_max,
				t->va + pt_table_span(t->level) - 1);
		if (rule && !pt_state_ok(t, rule))
			l->violations++;
		if (!t->lock)
			continue;
		/* Counted where pmd_lockptr() looks: the PMD level. */
		l = &sum[PT_PMD];
		l->lock_own += !!(t->lock & PT_LOCK_OWN);
		l->lock_mm += !!(t->lock & PT_LOCK_MM);
		l->lock_other += !!(t->lock & (PT_LOCK_NULL | PT_LOCK_OTHER));
	}
}

static void pt_check_level(struct seq_buf *s, int n, const struct pt_walk *w,
			   enum pt_level lvl, u8 rule,
			   const struct pt_summary *sum)
{
	char test[24], found[48], required[48];
	unsigned long listed = 0;
	size_t i;

	snprintf(test, sizeof(test), "%s.%s", pt_mm_names[w->kind],
		 pt_level_names[lvl]);
	if (pt_level_folded(lvl)) {
		pt_result(s, n, true, test, "level folded");
		return;
	}
	if (!rule) {
		pt_result(s, n, true, test, "no rule");
		return;
	}
	pt_mask_str(required, sizeof(required), rule, pt_state_names,
		    PT_RULE_STATES);
	seq_buf_printf(s, "# %s: %lu pages, rule %s, %lu break it\n", test,
		       sum->pages, required, sum->violations);
	for (i = 0; i < w->nr_tables; i++) {
		const struct pt_table *t = &w->tables[i];

		if (t->level != lvl || pt_state_ok(t, rule))
			continue;
		if (listed++ == PT_MAX_LISTED)
			break;
		pt_mask_str(found, sizeof(found), t->state, pt_state_names,
			    ARRAY_SIZE(pt_state_names));
		pt_list_page(s, test, t, found, required);
	}
	if (listed > PT_MAX_LISTED)
		seq_buf_printf(s, "# %s: ... %lu more\n", test,
			       sum->violations - PT_MAX_LISTED);
	pt_result(s, n, !sum->violations, test, NULL);
}

static void pt_check_pmd_lock(struct seq_buf *s, int n,
			      const struct pt_walk *w, u8 rule,
			      const struct pt_summary *sum)
{
	char found[48], required[48];
	unsigned long bad = 0;
	size_t i;

	if (!rule) {
		pt_result(s, n, true, "user.pmd_lock", "no rule");
		return;
	}
	pt_mask_str(required, sizeof(required), rule, pt_lock_names,
		    PT_RULE_LOCKS);
	for (i = 0; i < w->nr_tables; i++) {
		const struct pt_table *t = &w->tables[i];

		if (!t->lock || pt_pmd_lock_ok(t, rule))
			continue;
		if (bad++ < PT_MAX_LISTED) {
			pt_mask_str(found, sizeof(found), t->lock,
				    pt_lock_names, ARRAY_SIZE(pt_lock_names));
			pt_list_page(s, "user.pmd_lock", t, found, required);
		}
	}
	seq_buf_printf(s, "# user.pmd_lock: own %lu, mm %lu, other %lu, rule %s\n",
		       sum->lock_own, sum->lock_mm, sum->lock_other, required);
	pt_result(s, n, !bad, "user.pmd_lock", NULL);
}

/* The walk itself: no entry led outside memory or to a slab page. */
static void pt_check_walk(struct seq_buf *s, int n, const struct pt_walk *w)
{
	char test[24];
	unsigned long i;

	snprintf(test, sizeof(test), "%s.walk", pt_mm_names[w->kind]);
	seq_buf_printf(s, "# %s: %zu tables, %lu bad entries, %lu entries changed under the walk\n",
		       test, w->nr_tables, w->nr_bad, w->raced);
	for (i = 0; i < min_t(unsigned long, w->nr_bad, PT_MAX_BAD); i++)
		seq_buf_printf(s, "# %s: %s\n", test, w->bad[i]);
	if (w->err)
		seq_buf_printf(s, "# %s: walk stopped: error %d\n", test,
			       w->err);
	pt_result(s, n, !w->nr_bad && !w->err, test, NULL);
}

void pt_report_walk(struct seq_buf *s, const struct pt_walk *w,
		    const struct pt_rules *r, const char *header)
{
	struct pt_summary sum[PT_NR_LEVELS];
	const char *mm = pt_mm_names[w->kind];
	bool user = w->kind == PT_USER;
	int lvl, n = 0;

	pt_summarize(w, r, sum);
	seq_buf_printf(s, "KTAP version 1\n# %s\n", header);
	for (lvl = 0; lvl < PT_NR_LEVELS; lvl++) {
		const struct pt_level_stats *st = &w->lvl[lvl];
		const struct pt_summary *l = &sum[lvl];
		char rule[48];

		seq_buf_printf(s,
			       "# TABLE mm=%s level=%s folded=%d pages=%lu pagetable=%lu ptl=%lu image=%lu subpage=%lu entries=%lu leaves=%lu nonpresent=%lu own_pmd_lock=%lu mm_pmd_lock=%lu other_pmd_lock=%lu violations=%lu va_max=%#lx rule=%s\n",
			       mm, pt_level_names[lvl], pt_level_folded(lvl),
			       l->pages, l->pagetable, l->ptl, l->image,
			       l->subpage, st->entries, st->leaves,
			       st->nonpresent, l->lock_own, l->lock_mm,
			       l->lock_other, l->violations, l->va_max,
			       pt_mask_str(rule, sizeof(rule),
					   r->state[w->kind][lvl],
					   pt_state_names, PT_RULE_STATES));
	}
	seq_buf_printf(s, "1..%d\n", 1 + PT_NR_LEVELS + user);
	pt_check_walk(s, ++n, w);
	for (lvl = 0; lvl < PT_NR_LEVELS; lvl++)
		pt_check_level(s, ++n, w, lvl, r->state[w->kind][lvl],
			       &sum[lvl]);
	if (user)
		pt_check_pmd_lock(s, ++n, w, r->pmd_lock, &sum[PT_PMD]);
}
