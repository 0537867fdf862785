// SPDX-License-Identifier: GPL-2.0
/*
 * The walker: visits every table page of one mm, at the levels this kernel
 * really has (folded levels are not tables of their own), and records what
 * the ctors left in each page. It judges nothing; rules.c does.
 *
 * Entries are read with get_kernel_nofault() and followed only to valid,
 * non-slab pfns: a table of init_mm can be freed under any walker (see
 * pt_walk_mm()), and a stale entry must cost a report line, not an oops.
 */
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/pgalloc.h>

#include "ptlab.h"

const char * const pt_level_names[PT_NR_LEVELS] = {
	"pgd", "p4d", "pud", "pmd", "pte"
};

struct pt_level_geo {
	enum pt_level level;
	unsigned int shift;
	unsigned int ptrs;
};

/* The levels this kernel has, top down; a folded level is no table. */
static const struct pt_level_geo pt_levels[] = {
	{ PT_PGD, PGDIR_SHIFT, PTRS_PER_PGD },
#ifndef __PAGETABLE_P4D_FOLDED
	{ PT_P4D, P4D_SHIFT, PTRS_PER_P4D },
#endif
#ifndef __PAGETABLE_PUD_FOLDED
	{ PT_PUD, PUD_SHIFT, PTRS_PER_PUD },
#endif
#ifndef __PAGETABLE_PMD_FOLDED
	{ PT_PMD, PMD_SHIFT, PTRS_PER_PMD },
#endif
	{ PT_PTE, PAGE_SHIFT, PTRS_PER_PTE },
};

#define PT_DEPTH	ARRAY_SIZE(pt_levels)
/* The level whose entries point to PTE tables: what pmd_lockptr() gets. */
#define PT_PMD_DEPTH	(PT_DEPTH - 2)

bool pt_level_folded(enum pt_level level)
{
	unsigned int i;

	for (i = 0; i < PT_DEPTH; i++)
		if (pt_levels[i].level == level)
			return false;
	return true;
}

/* Bytes of address space one table of @level maps. */
unsigned long pt_table_span(enum pt_level level)
{
	unsigned int i;

	for (i = 0; i < PT_DEPTH; i++)
		if (pt_levels[i].level == level)
			return (unsigned long)pt_levels[i].ptrs << pt_levels[i].shift;
	return 0;
}

/*
 * arm64 descriptors share their type bits at every level (ARM ARM D8.3):
 * above the last level 0b11 is a table and anything else present is a
 * block, or a THP that is being split (PMD_PRESENT_INVALID).
 */
static bool pt_desc_table(u64 val)
{
	return (val & PMD_TYPE_MASK) == PMD_TYPE_TABLE;
}

static bool pt_in_image(unsigned long pfn)
{
	return pfn >= ptlab_syms.image_start_pfn &&
	       pfn < ptlab_syms.image_end_pfn;
}

static __printf(2, 3) void pt_bad(struct pt_walk *w, const char *fmt, ...)
{
	va_list args;

	if (w->nr_bad < PT_MAX_BAD) {
		va_start(args, fmt);
		vsnprintf(w->bad[w->nr_bad], sizeof(w->bad[0]), fmt, args);
		va_end(args);
	}
	w->nr_bad++;
}

/*
 * What the ctors left in a table page. Never asked of a slab object:
 * page->ptl shares its word with slab fields.
 */
static u8 pt_page_state(struct page *page)
{
	bool table = PageTable(page);
#if ALLOC_SPLIT_PTLOCKS
	bool ptl = READ_ONCE(page->ptl);

	if (table)
		return ptl ? PT_TABLE_PTL : PT_TABLE;
	return ptl ? PT_PTL_ONLY : PT_NONE;
#else
	/* The lock lives in struct page itself: present or not, can't tell. */
	return table ? PT_TABLE | PT_TABLE_PTL : PT_NONE;
#endif
}

/* Which lock pmd_lockptr() hands out for the PMD entries in @table. */
static u8 pt_pmd_lock(struct mm_struct *mm, void *table, struct page *page)
{
	spinlock_t *ptl = pmd_lockptr(mm, (pmd_t *)table);

	if (ptl == &mm->page_table_lock)
		return PT_LOCK_MM;
	if (!ptl)
		return PT_LOCK_NULL;
#if USE_SPLIT_PMD_PTLOCKS
	if (page && ptl == ptlock_ptr(page))
		return PT_LOCK_OWN;
#endif
	return PT_LOCK_OTHER;
}

static struct pt_table *pt_record(struct pt_walk *w, enum pt_level level,
				  unsigned long pfn, unsigned long va)
{
	struct pt_table *t;

	if (w->nr_tables == w->max_tables) {
		size_t n = w->max_tables * 2;

		t = kvmalloc_array(n, sizeof(*t), GFP_KERNEL);
		if (!t) {
			w->err = -ENOMEM;
			return NULL;
		}
		memcpy(t, w->tables, w->nr_tables * sizeof(*t));
		kvfree(w->tables);
		w->tables = t;
		w->max_tables = n;
	}
	t = &w->tables[w->nr_tables++];
	memset(t, 0, sizeof(*t));
	t->level = level;
	t->pfn = pfn;
	t->va = va;
	t->image = pt_in_image(pfn);
	return t;
}

/* User page tables are only stable where a VMA is (see pt_walk_mm()). */
static bool pt_user_range(struct pt_walk *w, unsigned long addr,
			  unsigned int shift)
{
	return find_vma_intersection(w->mm, addr, addr + (1UL << shift));
}

static void pt_walk_child(struct pt_walk *w, unsigned int depth, u64 *entry,
			  u64 val, unsigned long addr);

static void pt_walk_table(struct pt_walk *w, unsigned int depth, u64 *table,
			  unsigned long va, struct pt_table *rec,
			  struct page *page)
{
	const struct pt_level_geo *g = &pt_levels[depth];
	struct pt_level_stats *st = &w->lvl[g->level];
	unsigned int i;

	if (rec && depth == PT_PMD_DEPTH && w->kind == PT_USER)
		rec->lock = pt_pmd_lock(w->mm, table, page);

	for (i = 0; i < g->ptrs && !w->err; i++) {
		unsigned long addr = va + ((unsigned long)i << g->shift);
		u64 val;

		if (get_kernel_nofault(val, &table[i])) {
			pt_bad(w, "%s table for %#lx: unreadable",
			       pt_level_names[g->level], va);
			return;
		}
		if (!val)
			continue;
		st->entries++;
		if (depth == PT_DEPTH - 1) {
			if (pte_present(__pte(val)))
				st->leaves++;
			else
				st->nonpresent++;
			continue;
		}
		if (!pt_desc_table(val)) {
			/* A block (or THP) maps memory: it is no table. */
			if (pmd_present(__pmd(val)))
				st->leaves++;
			else
				st->nonpresent++;
			continue;
		}
		if (w->kind == PT_USER && !pt_user_range(w, addr, g->shift))
			continue;
		pt_walk_child(w, depth + 1, &table[i], val, addr);
	}
}

static void pt_walk_child(struct pt_walk *w, unsigned int depth, u64 *entry,
			  u64 val, unsigned long addr)
{
	const struct pt_level_geo *g = &pt_levels[depth];
	unsigned long pfn = __phys_to_pfn(__pte_to_phys(__pte(val)));
	struct pt_table *t;
	struct page *page;
	u64 again;

	if (!pfn_valid(pfn)) {
		pt_bad(w, "%s entry %#llx for %#lx: pfn %#lx is no memory",
		       pt_level_names[pt_levels[depth - 1].level], val, addr,
		       pfn);
		return;
	}
	page = pfn_to_page(pfn);
	if (PageSlab(page)) {
		pt_bad(w, "%s entry %#llx for %#lx: pfn %#lx is a slab page",
		       pt_level_names[pt_levels[depth - 1].level], val, addr,
		       pfn);
		return;
	}
	t = pt_record(w, g->level, pfn, addr);
	if (!t)
		return;
	t->state = pt_page_state(page);
	pt_walk_table(w, depth, (u64 *)__va(PFN_PHYS(pfn)), addr, t, page);

	if (depth == PT_DEPTH - 1) {
		cond_resched();
		if (fatal_signal_pending(current))
			w->err = -EINTR;
	}
	/* The entry changed while we were below it: the facts may be stale. */
	if (get_kernel_nofault(again, entry) || again != val)
		w->raced++;
}

/*
 * Walk w->pgd (of w->mm, or the trampoline's with no mm).
 *
 * Locking. User mm: the mmap lock, read. Page tables are freed with it held
 * for write, except by munmap, which drops to read after taking the VMAs out
 * (free_pgtables()); so a user walk only goes below entries that cover a
 * VMA, whose tables free_pgtables() leaves alone. efi_mm: its tables are
 * never freed; its mmap lock is taken to match. init_mm: two things free its
 * tables: memory hot-remove (free_empty_tables(), kept out by
 * get_online_mems() where it exists) and huge vmap/ioremap, which swaps a
 * table for a block with pmd_free_pte_page()/pud_free_pmd_page() and no lock
 * at all (arm64 turns huge vmap off for PTDUMP_DEBUGFS for that reason). We
 * hold init_mm's mmap lock as ptdump does, read with get_kernel_nofault(),
 * and count an entry that changed under us as a race, not as a fact.
 * The trampoline's tables are made once at boot and never change.
 * No spinlock is held, so the walk may sleep and is killable.
 */
int pt_walk_mm(struct pt_walk *w)
{
	struct mm_struct *lock_mm = w->mm;
	unsigned long pgd_va = (unsigned long)w->pgd;
	struct page *page = NULL;
	struct pt_table *t;
	unsigned long pfn;
	bool image;

	w->max_tables = 256;
	w->tables = kvmalloc_array(w->max_tables, sizeof(*w->tables),
				   GFP_KERNEL);
	if (!w->tables)
		return -ENOMEM;

	image = pgd_va >= ptlab_syms.image_start &&
		pgd_va < ptlab_syms.image_end;
	pfn = image ? __phys_to_pfn(__pa_symbol(pgd_va)) : virt_to_pfn(w->pgd);
	t = pt_record(w, PT_PGD, pfn, w->base);
	if (!t)
		return w->err;
	if (image || PGD_SIZE == PAGE_SIZE) {
		page = pfn_to_page(pfn);
		t->state = pt_page_state(page);
	} else {
		/* A kmem_cache object sharing its page: no ctor can apply. */
		t->state = PT_SUBPAGE;
	}

	if (w->kind == PT_TRAMP)
		lock_mm = NULL;
	else if (w->kind == PT_INIT_MM && ptlab_syms.get_online_mems)
		ptlab_syms.get_online_mems();
	if (lock_mm && mmap_read_lock_killable(lock_mm)) {
		w->err = -EINTR;
		goto out;
	}
	pt_walk_table(w, 0, (u64 *)w->pgd, w->base, t, page);
	if (lock_mm)
		mmap_read_unlock(lock_mm);
out:
	if (w->kind == PT_INIT_MM && ptlab_syms.put_online_mems)
		ptlab_syms.put_online_mems();
	return w->err;
}

void pt_walk_free(struct pt_walk *w)
{
	kvfree(w->tables);
	w->tables = NULL;
}

/*
 * The PTE that maps @addr, if @addr is mapped by a PTE at all: every level
 * above must be a table (a block is what apply_to_page_range() must never
 * meet). Used on efi_mm, whose tables are never freed.
 */
pte_t *pt_lookup_pte(pgd_t *pgd, unsigned long addr, const char **why)
{
	u64 *table = (u64 *)pgd;
	unsigned int depth;

	for (depth = 0; depth < PT_DEPTH - 1; depth++) {
		const struct pt_level_geo *g = &pt_levels[depth];
		u64 *entry = &table[(addr >> g->shift) & (g->ptrs - 1)];
		unsigned long pfn;
		u64 val;

		if (get_kernel_nofault(val, entry)) {
			*why = "unreadable table";
			return NULL;
		}
		if (!val) {
			*why = "no table";
			return NULL;
		}
		if (!pt_desc_table(val)) {
			*why = "block mapping";
			return NULL;
		}
		pfn = __phys_to_pfn(__pte_to_phys(__pte(val)));
		if (!pfn_valid(pfn)) {
			*why = "table outside memory";
			return NULL;
		}
		table = (u64 *)__va(PFN_PHYS(pfn));
	}
	return (pte_t *)&table[(addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)];
}
