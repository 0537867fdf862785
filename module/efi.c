// SPDX-License-Identifier: GPL-2.0
/*
 * efi_mm exerciser. At boot, efi_set_mapping_permissions() (arch/arm64/
 * kernel/efi.c) rewrites the PTEs of the EFI runtime regions with
 * apply_to_page_range(&efi_mm, ...), which takes the split PTE lock of each
 * PTE table: that is why efi_mm's tables must be constructed. Here several
 * kthreads take the same path again, over and over, while EFI runtime
 * services run on those very tables, and afterwards every PTE must be
 * exactly what it was.
 */
#include <linux/completion.h>
#include <linux/efi.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ptlab.h"

/* Bounds on what one run snapshots; QEMU's firmware needs a few MiB. */
#define PT_EFI_MAX_REGIONS	64
#define PT_EFI_MAX_PAGES	(64UL << 10)

struct pt_efi_region {
	unsigned long start;
	unsigned long pages;
	u32 type;
	pte_t *snap;
};

struct pt_efi_run {
	struct pt_efi_region regions[PT_EFI_MAX_REGIONS];
	unsigned int nr_regions;
	unsigned int iterations;
	struct completion go;
	atomic_t stop;
	atomic_long_t applied;		/* apply_to_page_range() calls */
	atomic_long_t apply_errors;
	atomic_long_t mismatches;	/* PTEs that differed from the snapshot */
	atomic_long_t get_time;
	atomic_long_t get_variable;
	atomic_long_t efi_errors;
	atomic_long_t efi_skipped;
	unsigned long last_bad_status;
};

struct pt_efi_thread {
	struct pt_efi_run *run;
	unsigned int id;
	struct completion done;
};

struct pt_efi_apply {
	struct pt_efi_run *run;
	struct pt_efi_region *region;
};

/*
 * The regions efi_set_mapping_permissions() may be handed: runtime code and
 * data, which efi_create_mapping() maps with pages only, and not misaligned
 * to PAGE_SIZE (the kernel skips those too). Everything else may be mapped
 * with blocks, where apply_to_page_range() must not go.
 */
static bool pt_efi_region_wanted(const efi_memory_desc_t *md)
{
	u64 size = md->num_pages << EFI_PAGE_SHIFT;

	if (!(md->attribute & EFI_MEMORY_RUNTIME) || !md->virt_addr ||
	    md->virt_addr == U64_MAX)
		return false;
	if (md->type != EFI_RUNTIME_SERVICES_CODE &&
	    md->type != EFI_RUNTIME_SERVICES_DATA)
		return false;
	return PAGE_ALIGNED(md->phys_addr) && PAGE_ALIGNED(size) &&
	       PAGE_ALIGNED(md->virt_addr);
}

/* Snapshot every PTE of the region; false if any page is not PTE-mapped. */
static bool pt_efi_snapshot(struct seq_buf *s, struct pt_efi_region *r)
{
	struct mm_struct *mm = ptlab_syms.efi_mm;
	unsigned long i;

	for (i = 0; i < r->pages; i++) {
		unsigned long addr = r->start + (i << PAGE_SHIFT);
		const char *why = "not present";
		pte_t *ptep = pt_lookup_pte(mm->pgd, addr, &why);

		if (ptep)
			r->snap[i] = READ_ONCE(*ptep);
		if (!ptep || !pte_valid(r->snap[i])) {
			seq_buf_printf(s, "# efi: region at %#lx left out: %#lx: %s\n",
				       r->start, addr, why);
			return false;
		}
	}
	return true;
}

static int pt_efi_collect(struct seq_buf *s, struct pt_efi_run *run)
{
	unsigned long total = 0;
	efi_memory_desc_t *md;

	for_each_efi_memory_desc(md) {
		struct pt_efi_region *r;

		if (!pt_efi_region_wanted(md))
			continue;
		if (run->nr_regions == PT_EFI_MAX_REGIONS)
			break;
		r = &run->regions[run->nr_regions];
		r->start = md->virt_addr;
		r->pages = (md->num_pages << EFI_PAGE_SHIFT) >> PAGE_SHIFT;
		r->type = md->type;
		if (total + r->pages > PT_EFI_MAX_PAGES)
			break;
		r->snap = kvmalloc_array(r->pages, sizeof(pte_t), GFP_KERNEL);
		if (!r->snap)
			return -ENOMEM;
		if (!pt_efi_snapshot(s, r)) {
			kvfree(r->snap);
			r->snap = NULL;
			continue;
		}
		seq_buf_printf(s, "# efi: region %u: %s va=%#lx-%#lx pages=%lu\n",
			       run->nr_regions,
			       r->type == EFI_RUNTIME_SERVICES_CODE ?
			       "runtime-code" : "runtime-data", r->start,
			       r->start + (r->pages << PAGE_SHIFT) - 1,
			       r->pages);
		total += r->pages;
		run->nr_regions++;
	}
	return 0;
}

/*
 * The set_permissions() of arch/arm64/kernel/efi.c, with the permission
 * bits the PTE has now as the ones to apply. Runs under the PTE table's
 * split lock, taken by apply_to_page_range().
 */
static int pt_efi_reapply(pte_t *ptep, unsigned long addr, void *data)
{
	struct pt_efi_apply *a = data;
	pte_t old = a->region->snap[(addr - a->region->start) >> PAGE_SHIFT];
	pte_t pte = READ_ONCE(*ptep);

	if (pte_val(pte) != pte_val(old)) {
		/* Never write what we did not expect: count it, stop. */
		atomic_long_inc(&a->run->mismatches);
		return -EIO;
	}
	pte = set_pte_bit(pte, __pgprot(pte_val(old) & (PTE_RDONLY | PTE_PXN)));
	set_pte(ptep, pte);
	return 0;
}

static void pt_efi_apply(struct pt_efi_run *run, struct pt_efi_region *r)
{
	struct pt_efi_apply a = { .run = run, .region = r };
	int err;

	err = apply_to_page_range(ptlab_syms.efi_mm, r->start,
				  r->pages << PAGE_SHIFT, pt_efi_reapply, &a);
	atomic_long_inc(&run->applied);
	if (err)
		atomic_long_inc(&run->apply_errors);
}

static bool pt_efi_status_ok(efi_status_t st)
{
	return st == EFI_SUCCESS || st == EFI_NOT_FOUND ||
	       st == EFI_BUFFER_TOO_SMALL;
}

/* A runtime service call: the firmware runs on efi_mm's tables. */
static void pt_efi_call(struct pt_efi_run *run, unsigned int n)
{
	efi_guid_t guid = EFI_GLOBAL_VARIABLE_GUID;
	unsigned long size;
	efi_status_t st;
	efi_time_t tm;
	u8 data[64];
	u32 attr;

	if (n & 1) {
		if (!efi_rt_services_supported(EFI_RT_SUPPORTED_GET_VARIABLE)) {
			atomic_long_inc(&run->efi_skipped);
			return;
		}
		size = sizeof(data);
		st = efi.get_variable(L"PlatformLang", &guid, &attr, &size,
				      data);
		atomic_long_inc(&run->get_variable);
	} else {
		if (!efi_rt_services_supported(EFI_RT_SUPPORTED_GET_TIME)) {
			atomic_long_inc(&run->efi_skipped);
			return;
		}
		st = efi.get_time(&tm, NULL);
		atomic_long_inc(&run->get_time);
	}
	if (!pt_efi_status_ok(st)) {
		atomic_long_inc(&run->efi_errors);
		WRITE_ONCE(run->last_bad_status, st);
	}
}

static int pt_efi_thread(void *arg)
{
	struct pt_efi_thread *t = arg;
	struct pt_efi_run *run = t->run;
	unsigned int i, r;

	wait_for_completion(&run->go);
	for (i = 0; i < run->iterations && !atomic_read(&run->stop); i++) {
		for (r = 0; r < run->nr_regions; r++) {
			pt_efi_apply(run, &run->regions[(r + t->id) %
							run->nr_regions]);
			pt_efi_call(run, t->id + i + r);
		}
		cond_resched();
	}
	/* Never return into module text: rmmod may follow at once. */
	kthread_complete_and_exit(&t->done, 0);
}

/* Every snapshotted PTE is, after the run, exactly what it was. */
static unsigned long pt_efi_verify(struct seq_buf *s, struct pt_efi_run *run)
{
	unsigned long changed = 0, i;
	unsigned int r;

	for (r = 0; r < run->nr_regions; r++) {
		struct pt_efi_region *reg = &run->regions[r];

		for (i = 0; i < reg->pages; i++) {
			unsigned long addr = reg->start + (i << PAGE_SHIFT);
			const char *why = "";
			pte_t *ptep;
			pte_t now;

			ptep = pt_lookup_pte(ptlab_syms.efi_mm->pgd, addr,
					     &why);
			now = ptep ? READ_ONCE(*ptep) : __pte(0);
			if (pte_val(now) == pte_val(reg->snap[i]))
				continue;
			if (changed++ < 32)
				seq_buf_printf(s,
					       "# efi.ptes_unchanged: va=%#lx was %#llx now %#llx %s\n",
					       addr,
					       (u64)pte_val(reg->snap[i]),
					       (u64)pte_val(now), why);
		}
	}
	return changed;
}

static void pt_efi_wait(struct pt_efi_thread *t)
{
	/* Not one long uninterruptible sleep: the hung task detector watches. */
	while (!wait_for_completion_timeout(&t->done, HZ))
		if (fatal_signal_pending(current))
			atomic_set(&t->run->stop, 1);
}

static void pt_efi_report(struct seq_buf *s, struct pt_efi_run *run,
			  unsigned int threads, unsigned int started,
			  unsigned long changed)
{
	unsigned long ptes = 0;
	unsigned int r;
	int n = 0;

	for (r = 0; r < run->nr_regions; r++)
		ptes += run->regions[r].pages;
	seq_buf_printf(s,
		       "# TABLE efi_exercise threads=%u started=%u iterations=%u regions=%u ptes=%lu applied=%ld apply_errors=%ld callback_mismatches=%ld get_time=%ld get_variable=%ld efi_errors=%ld efi_skipped=%ld changed=%lu\n",
		       threads, started, run->iterations, run->nr_regions,
		       ptes, atomic_long_read(&run->applied),
		       atomic_long_read(&run->apply_errors),
		       atomic_long_read(&run->mismatches),
		       atomic_long_read(&run->get_time),
		       atomic_long_read(&run->get_variable),
		       atomic_long_read(&run->efi_errors),
		       atomic_long_read(&run->efi_skipped), changed);
	seq_buf_printf(s, "1..5\n");
	seq_buf_printf(s, "%sok %d efi.regions\n",
		       run->nr_regions ? "" : "not ", ++n);
	seq_buf_printf(s, "%sok %d efi.threads\n",
		       started == threads && !atomic_read(&run->stop) ?
		       "" : "not ", ++n);
	/* apply_to_page_range() succeeded every time, on the PTEs we saw. */
	seq_buf_printf(s, "%sok %d efi.apply_to_page_range\n",
		       atomic_long_read(&run->apply_errors) ? "not " : "", ++n);
	if (atomic_long_read(&run->efi_errors))
		seq_buf_printf(s, "# efi.runtime_calls: last bad status %#lx\n",
			       run->last_bad_status);
	seq_buf_printf(s, "%sok %d efi.runtime_calls\n",
		       atomic_long_read(&run->efi_errors) ? "not " : "", ++n);
	seq_buf_printf(s, "%sok %d efi.ptes_unchanged\n", changed ? "not " : "",
		       ++n);
}

int pt_efi_exercise(struct seq_buf *s, unsigned int threads,
		    unsigned int iterations)
{
	struct pt_efi_thread *t;
	struct pt_efi_run *run;
	unsigned int i, started = 0;
	unsigned long changed;
	int err;

	seq_buf_printf(s, "KTAP version 1\n# efi_mm exerciser: threads=%u iterations=%u\n",
		       threads, iterations);
	if (!efi_enabled(EFI_RUNTIME_SERVICES) || !efi_enabled(EFI_MEMMAP) ||
	    !ptlab_syms.efi_mm || !ptlab_syms.efi_mm->pgd) {
		seq_buf_printf(s, "1..0 # SKIP no EFI runtime services, no efi_mm\n");
		return 0;
	}
	run = kvzalloc(sizeof(*run), GFP_KERNEL);
	t = kcalloc(threads, sizeof(*t), GFP_KERNEL);
	if (!run || !t) {
		err = -ENOMEM;
		goto out;
	}
	run->iterations = iterations;
	init_completion(&run->go);
	err = pt_efi_collect(s, run);
	if (err)
		goto out;

	for (i = 0; i < threads && run->nr_regions; i++) {
		struct task_struct *task;

		t[i].run = run;
		t[i].id = i;
		init_completion(&t[i].done);
		task = kthread_run(pt_efi_thread, &t[i], "ptlab_efi/%u", i);
		if (IS_ERR(task)) {
			seq_buf_printf(s, "# efi: kthread %u: error %ld\n", i,
				       PTR_ERR(task));
			atomic_set(&run->stop, 1);
			break;
		}
		started++;
	}
	complete_all(&run->go);
	for (i = 0; i < started; i++)
		pt_efi_wait(&t[i]);

	changed = pt_efi_verify(s, run);
	pt_efi_report(s, run, threads, started, changed);
out:
	if (run)
		for (i = 0; i < run->nr_regions; i++)
			kvfree(run->regions[i].snap);
	kfree(t);
	kvfree(run);
	return err;
}
