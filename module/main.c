// SPDX-License-Identifier: GPL-2.0
/*
 * ptlab_audit: audits, from inside the guest, which page-table ctors ran on
 * the table pages of init_mm, efi_mm, the KPTI trampoline and a user mm, and
 * which lock pmd_lockptr() hands out, for the lab that tests Yu Zhao's
 * arm64 split PMD ptlock series. Results are KTAP, with one "# TABLE" line
 * per mm and level for machines.
 *
 * /sys/kernel/debug/ptlab/
 *   geometry      r   page size, levels, folding, split ptlock config,
 *                     NR_PAGETABLE and NR_SECONDARY_PAGETABLE, as facts
 *                     for the host to judge
 *   rules         rw  the per-table rules audits check: "key:value" lines
 *                     (the host's /ptlab/rules), or "clear"
 *   init_mm       r   audit of swapper_pg_dir
 *   efi_mm        r   audit of efi_mm
 *   tramp         r   audit of tramp_pg_dir
 *   user          rw  write a pid; read: audit of that process's mm
 *   efi_exercise  rw  write "threads=N iterations=M" to run the exerciser;
 *                     read: the last run's report
 *
 * An audit runs when its file is opened for reading, so one read(2) loop
 * sees one consistent report. Nonsense written anywhere is -EINVAL, with
 * the reason in the kernel log.
 */
#include <linux/debugfs.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/pgalloc.h>

#include "ptlab.h"

#define PT_OUT_SIZE	(256UL << 10)
#define PT_OUT_SPARE	64
#define PT_IN_MAX	4096
/* pgd[0] of a TTBR1 table (init_mm, trampoline) maps this address. */
#define PT_TTBR1_BASE	(~0UL << VA_BITS)

struct pt_syms ptlab_syms;

struct pt_out {
	size_t len;
	char buf[];
};

/* Protects pt_rules, pt_user_pid and pt_efi_last. */
static DEFINE_MUTEX(pt_mutex);
static struct pt_rules pt_rules;

static struct pid *pt_user_pid;
static struct pt_out *pt_efi_last;

/* One exerciser run at a time. */
static DEFINE_MUTEX(pt_efi_mutex);

static struct dentry *pt_dir;
static enum pt_mm pt_kinds[PT_NR_MMS] = {
	PT_INIT_MM, PT_EFI_MM, PT_TRAMP, PT_USER
};

static struct pt_out *pt_out_alloc(struct seq_buf *s)
{
	struct pt_out *out;

	out = kvmalloc(struct_size(out, buf, PT_OUT_SIZE), GFP_KERNEL);
	if (out)
		seq_buf_init(s, out->buf, PT_OUT_SIZE - PT_OUT_SPARE);
	return out;
}

static void pt_out_done(struct pt_out *out, struct seq_buf *s)
{
	out->len = seq_buf_used(s);
	if (!seq_buf_has_overflowed(s))
		return;
	/* Cut back to the last whole line, then say so in the spare room. */
	while (out->len && out->buf[out->len - 1] != '\n')
		out->len--;
	out->len += scnprintf(out->buf + out->len, PT_OUT_SPARE,
			      "# ptlab_audit: output truncated\n");
}

static void pt_skip_all(struct seq_buf *s, const char *why)
{
	seq_buf_printf(s, "KTAP version 1\n1..0 # SKIP %s\n", why);
}

static int pt_audit(struct seq_buf *s, enum pt_mm kind, struct mm_struct *mm,
		    pgd_t *pgd, const char *header)
{
	struct pt_rules rules;
	struct pt_walk *w;
	int err;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	mutex_lock(&pt_mutex);
	rules = pt_rules;
	mutex_unlock(&pt_mutex);

	w->kind = kind;
	w->mm = mm;
	w->pgd = pgd;
	w->base = kind == PT_INIT_MM || kind == PT_TRAMP ? PT_TTBR1_BASE : 0;
	err = pt_walk_mm(w);
	if (err != -EINTR)
		pt_report_walk(s, w, &rules, header);
	pt_walk_free(w);
	kfree(w);
	return err == -EINTR ? err : 0;
}

static int pt_audit_user(struct seq_buf *s)
{
	char comm[TASK_COMM_LEN], header[96];
	struct task_struct *task;
	struct mm_struct *mm;
	struct pid *pid;
	int err;

	mutex_lock(&pt_mutex);
	pid = get_pid(pt_user_pid);
	mutex_unlock(&pt_mutex);
	if (!pid) {
		pt_skip_all(s, "no pid written to user");
		return 0;
	}
	task = get_pid_task(pid, PIDTYPE_PID);
	mm = task ? get_task_mm(task) : NULL;
	if (task) {
		get_task_comm(comm, task);
		put_task_struct(task);
	}
	if (!mm) {
		pr_debug("ptlab_audit: user: pid %d has exited\n", pid_nr(pid));
		put_pid(pid);
		return -ESRCH;
	}
	/* From here the mm outlives its process, should that exit. */
	snprintf(header, sizeof(header), "user: pid=%d comm=%s vmas=%d",
		 pid_nr(pid), comm, READ_ONCE(mm->map_count));
	err = pt_audit(s, PT_USER, mm, mm->pgd, header);
	mmput(mm);
	put_pid(pid);
	return err;
}

static int pt_mm_report(struct seq_buf *s, enum pt_mm kind)
{
	struct mm_struct *efi_mm = ptlab_syms.efi_mm;

	switch (kind) {
	case PT_INIT_MM:
		return pt_audit(s, kind, ptlab_syms.init_mm,
				ptlab_syms.init_mm->pgd,
				"init_mm: pgd=swapper_pg_dir (kernel image)");
	case PT_EFI_MM:
		if (!efi_mm || !efi_mm->pgd) {
			pt_skip_all(s, "no efi_mm (no EFI runtime services)");
			return 0;
		}
		return pt_audit(s, kind, efi_mm, efi_mm->pgd,
				"efi_mm: pgd from pgd_alloc()");
	case PT_TRAMP:
		if (!ptlab_syms.tramp_pg_dir) {
			pt_skip_all(s, "no tramp_pg_dir (no KPTI trampoline)");
			return 0;
		}
		return pt_audit(s, kind, NULL, ptlab_syms.tramp_pg_dir,
				"tramp: pgd=tramp_pg_dir (kernel image)");
	default:
		return pt_audit_user(s);
	}
}

static int pt_mm_open(struct inode *inode, struct file *file)
{
	enum pt_mm kind = *(enum pt_mm *)inode->i_private;
	struct pt_out *out;
	struct seq_buf s;
	int err;

	if (!(file->f_mode & FMODE_READ))
		return 0;
	out = pt_out_alloc(&s);
	if (!out)
		return -ENOMEM;
	err = pt_mm_report(&s, kind);
	if (err) {
		kvfree(out);
		return err;
	}
	pt_out_done(out, &s);
	file->private_data = out;
	return 0;
}

static int pt_geometry_open(struct inode *inode, struct file *file)
{
	struct pt_out *out;
	struct seq_buf s;

	if (!(file->f_mode & FMODE_READ))
		return 0;
	out = pt_out_alloc(&s);
	if (!out)
		return -ENOMEM;
	pt_report_geometry(&s);
	pt_out_done(out, &s);
	file->private_data = out;
	return 0;
}

static int pt_rules_open(struct inode *inode, struct file *file)
{
	struct pt_out *out;
	struct seq_buf s;

	if (!(file->f_mode & FMODE_READ))
		return 0;
	out = pt_out_alloc(&s);
	if (!out)
		return -ENOMEM;
	mutex_lock(&pt_mutex);
	pt_rules_show(&s, &pt_rules);
	mutex_unlock(&pt_mutex);
	pt_out_done(out, &s);
	file->private_data = out;
	return 0;
}

static int pt_efi_open(struct inode *inode, struct file *file)
{
	struct pt_out *out;
	struct seq_buf s;

	if (!(file->f_mode & FMODE_READ))
		return 0;
	mutex_lock(&pt_mutex);
	if (pt_efi_last) {
		out = kvmalloc(struct_size(out, buf, pt_efi_last->len),
			       GFP_KERNEL);
		if (out) {
			out->len = pt_efi_last->len;
			memcpy(out->buf, pt_efi_last->buf, out->len);
		}
	} else {
		out = pt_out_alloc(&s);
		if (out) {
			pt_skip_all(&s, "not run yet: write 'threads=N iterations=M'");
			pt_out_done(out, &s);
		}
	}
	mutex_unlock(&pt_mutex);
	if (!out)
		return -ENOMEM;
	file->private_data = out;
	return 0;
}

static ssize_t pt_read(struct file *file, char __user *ubuf, size_t count,
		       loff_t *ppos)
{
	struct pt_out *out = file->private_data;

	if (!out)
		return -EBADF;
	return simple_read_from_buffer(ubuf, count, ppos, out->buf, out->len);
}

static int pt_release(struct inode *inode, struct file *file)
{
	kvfree(file->private_data);
	return 0;
}

static char *pt_input(struct file *file, const char __user *ubuf,
		      size_t count)
{
	if (count > PT_IN_MAX) {
		pr_warn("ptlab_audit: %pD: more than %d bytes\n", file,
			PT_IN_MAX);
		return ERR_PTR(-EINVAL);
	}
	return memdup_user_nul(ubuf, count);
}

static ssize_t pt_write_ro(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	pr_warn("ptlab_audit: %pD is read-only\n", file);
	return -EINVAL;
}

static ssize_t pt_rules_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	struct pt_rules rules;
	char *text;
	int err;

	text = pt_input(file, ubuf, count);
	if (IS_ERR(text))
		return PTR_ERR(text);
	err = pt_rules_parse(text, &rules);
	kfree(text);
	if (err)
		return err;
	mutex_lock(&pt_mutex);
	pt_rules = rules;
	mutex_unlock(&pt_mutex);
	return count;
}

static ssize_t pt_user_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct task_struct *task;
	struct pid *pid, *old;
	bool kthread;
	char *text;
	int nr, err;

	text = pt_input(file, ubuf, count);
	if (IS_ERR(text))
		return PTR_ERR(text);
	err = kstrtoint(strim(text), 10, &nr);
	if (err || nr <= 0) {
		pr_warn("ptlab_audit: user: '%s' is not a pid\n", strim(text));
		kfree(text);
		return -EINVAL;
	}
	kfree(text);
	pid = find_get_pid(nr);
	task = pid ? get_pid_task(pid, PIDTYPE_PID) : NULL;
	if (!task) {
		pr_warn("ptlab_audit: user: no process %d\n", nr);
		put_pid(pid);
		return -ESRCH;
	}
	kthread = task->flags & PF_KTHREAD;
	put_task_struct(task);
	if (kthread) {
		pr_warn("ptlab_audit: user: %d is a kernel thread, no mm\n", nr);
		put_pid(pid);
		return -EINVAL;
	}
	mutex_lock(&pt_mutex);
	old = pt_user_pid;
	pt_user_pid = pid;
	mutex_unlock(&pt_mutex);
	put_pid(old);
	return count;
}

static int pt_efi_args(char *text, unsigned int *threads,
		       unsigned int *iterations)
{
	char *tok, *val;

	while ((tok = strsep(&text, " \t\n"))) {
		unsigned int *arg, max;

		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val)
			goto bad;
		*val++ = '\0';
		if (!strcmp(tok, "threads")) {
			arg = threads;
			max = 16;
		} else if (!strcmp(tok, "iterations")) {
			arg = iterations;
			max = 100000;
		} else {
			goto bad;
		}
		if (kstrtouint(val, 0, arg) || !*arg || *arg > max) {
			pr_warn("ptlab_audit: efi_exercise: %s=%s: want 1..%u\n",
				tok, val, max);
			return -EINVAL;
		}
	}
	return 0;
bad:
	pr_warn("ptlab_audit: efi_exercise: '%s': want threads=N iterations=M\n",
		tok);
	return -EINVAL;
}

static ssize_t pt_efi_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	unsigned int threads = 4, iterations = 10;
	struct pt_out *out, *old;
	struct seq_buf s;
	char *text;
	int err;

	text = pt_input(file, ubuf, count);
	if (IS_ERR(text))
		return PTR_ERR(text);
	err = pt_efi_args(text, &threads, &iterations);
	kfree(text);
	if (err)
		return err;
	if (mutex_lock_interruptible(&pt_efi_mutex))
		return -EINTR;
	out = pt_out_alloc(&s);
	err = out ? pt_efi_exercise(&s, threads, iterations) : -ENOMEM;
	mutex_unlock(&pt_efi_mutex);
	if (err) {
		kvfree(out);
		return err;
	}
	pt_out_done(out, &s);
	mutex_lock(&pt_mutex);
	old = pt_efi_last;
	pt_efi_last = out;
	mutex_unlock(&pt_mutex);
	kvfree(old);
	return count;
}

/* .owner pins the module while a file is open: rmmod waits for no walk. */
#define PT_FOPS(name, open_fn, write_fn)				\
	static const struct file_operations name = {			\
		.owner = THIS_MODULE,					\
		.open = open_fn,					\
		.read = pt_read,					\
		.write = write_fn,					\
		.release = pt_release,					\
		.llseek = default_llseek,				\
	}

PT_FOPS(pt_geometry_fops, pt_geometry_open, pt_write_ro);
PT_FOPS(pt_rules_fops, pt_rules_open, pt_rules_write);
PT_FOPS(pt_mm_fops, pt_mm_open, pt_write_ro);
PT_FOPS(pt_user_fops, pt_mm_open, pt_user_write);
PT_FOPS(pt_efi_fops, pt_efi_open, pt_efi_write);

static unsigned long (*pt_kallsyms_lookup_name)(const char *name);

/* kallsyms_lookup_name() is not exported; a kprobe still resolves it. */
static int pt_find_kallsyms(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int err;

	err = register_kprobe(&kp);
	if (err)
		return err;
	pt_kallsyms_lookup_name = (unsigned long (*)(const char *))kp.addr;
	unregister_kprobe(&kp);
	return pt_kallsyms_lookup_name ? 0 : -ENOENT;
}

static int pt_find_symbols(void)
{
	struct pt_syms *y = &ptlab_syms;
	int err;

	err = pt_find_kallsyms();
	if (err) {
		pr_err("ptlab_audit: no kallsyms_lookup_name (kprobe: %d)\n",
		       err);
		return err;
	}
	y->init_mm = (void *)pt_kallsyms_lookup_name("init_mm");
	y->image_start = pt_kallsyms_lookup_name("_text");
	y->image_end = pt_kallsyms_lookup_name("_end");
	if (!y->init_mm || !y->image_start || !y->image_end) {
		pr_err("ptlab_audit: init_mm, _text or _end not in kallsyms\n");
		return -ENOENT;
	}
	y->image_start_pfn = __phys_to_pfn(__pa_symbol(y->image_start));
	y->image_end_pfn = PFN_UP(__pa_symbol(y->image_end));
	if (IS_ENABLED(CONFIG_EFI))
		y->efi_mm = (void *)pt_kallsyms_lookup_name("efi_mm");
	if (IS_ENABLED(CONFIG_UNMAP_KERNEL_AT_EL0))
		y->tramp_pg_dir = (void *)pt_kallsyms_lookup_name("tramp_pg_dir");
	/* Functions only with memory hotplug; inline no-ops otherwise. */
	y->get_online_mems = (void *)pt_kallsyms_lookup_name("get_online_mems");
	y->put_online_mems = (void *)pt_kallsyms_lookup_name("put_online_mems");
	if (!y->get_online_mems || !y->put_online_mems) {
		y->get_online_mems = NULL;
		y->put_online_mems = NULL;
	}
	return 0;
}

static int __init ptlab_init(void)
{
	int err;

	err = pt_find_symbols();
	if (err)
		return err;
	pt_dir = debugfs_create_dir("ptlab", NULL);
	if (IS_ERR(pt_dir))
		return PTR_ERR(pt_dir);
	debugfs_create_file("geometry", 0444, pt_dir, NULL, &pt_geometry_fops);
	debugfs_create_file("rules", 0644, pt_dir, NULL, &pt_rules_fops);
	debugfs_create_file("init_mm", 0444, pt_dir, &pt_kinds[PT_INIT_MM],
			    &pt_mm_fops);
	debugfs_create_file("efi_mm", 0444, pt_dir, &pt_kinds[PT_EFI_MM],
			    &pt_mm_fops);
	debugfs_create_file("tramp", 0444, pt_dir, &pt_kinds[PT_TRAMP],
			    &pt_mm_fops);
	debugfs_create_file("user", 0644, pt_dir, &pt_kinds[PT_USER],
			    &pt_user_fops);
	debugfs_create_file("efi_exercise", 0644, pt_dir, NULL, &pt_efi_fops);
	pr_info("ptlab_audit: /sys/kernel/debug/ptlab ready (efi_mm %s, tramp_pg_dir %s)\n",
		ptlab_syms.efi_mm ? "found" : "absent",
		ptlab_syms.tramp_pg_dir ? "found" : "absent");
	return 0;
}

static void __exit ptlab_exit(void)
{
	/* Waits for every open, read and write in flight. */
	debugfs_remove_recursive(pt_dir);
	put_pid(pt_user_pid);
	kvfree(pt_efi_last);
}

module_init(ptlab_init);
module_exit(ptlab_exit);
MODULE_DESCRIPTION("Page-table ctor and lock audit for the arm64 split PMD ptlock lab");
MODULE_LICENSE("GPL");
