# fedcommons backup library (POSIX sh; runs under busybox ash, dash and bash).
# Every backup is a directory $BACKUP_ROOT/<name>, <name> the UTC time it
# was started (20261202T030000Z). It is complete only once manifest.json
# exists: the manifest is written last, after every part and SHA256SUMS are
# on disk, so a backup cut short is never taken for a complete one.
set -eu

die() { echo "fedcommons-backup: $*" >&2; exit 1; }
say() { echo "fedcommons-backup: $*"; }

name_ok() { printf '%s' "$1" | grep -Eq '^[0-9]{8}T[0-9]{6}Z$'; }
# Values written into the manifest unquoted by anything else: keep them to
# characters that need no JSON escaping.
word_ok() { printf '%s' "$1" | grep -Eq '^[A-Za-z0-9._+-]{1,64}$'; }

size_of() { wc -c <"$1" | tr -d ' '; }

# prune ROOT KEEP_LAST KEEP_DAILY KEEP_WEEKLY deletes the complete backups
# that the retention does not keep, and partial ones older than the newest
# complete one (leftovers of runs cut short). It mirrors backup.Prune in
# Go: keep the KEEP_LAST newest, plus the newest of each of the KEEP_DAILY
# most recent days that have a backup, plus the newest of each of the
# KEEP_WEEKLY most recent weeks (Monday to Sunday, UTC) that have one.
prune() {
	root=$1
	[ "$2" -ge 1 ] || die "retention keepLast must be at least 1, not $2"
	for d in "$root"/*; do
		n=${d##*/}
		name_ok "$n" || continue
		[ -f "$d/manifest.json" ] && echo "$n"
	done | sort -r >"$root/.complete"
	newest=$(head -n 1 "$root/.complete")
	awk -v last="$2" -v daily="$3" -v weekly="$4" '
	function days(y, m, d,   era, yoe, doy, doe) {
		y -= (m <= 2)
		era = int(y / 400); yoe = y - era * 400
		doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
		doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
		return era * 146097 + doe - 719468
	}
	{
		dn = days(substr($0, 1, 4) + 0, substr($0, 5, 2) + 0, substr($0, 7, 2) + 0)
		wk = int((dn + 3) / 7)  # 1970-01-01 was a Thursday: weeks start on Monday
		keep = (NR <= last)
		if (dn != lastday) { lastday = dn; if (nd < daily) { nd++; keep = 1 } }
		if (wk != lastweek) { lastweek = wk; if (nw < weekly) { nw++; keep = 1 } }
		if (!keep) print
	}' lastday=-1 lastweek=-1 "$root/.complete" >"$root/.prune"
	while read -r n; do
		say "pruning $n (outside the retention)"
		rm -rf "${root:?}/$n"
	done <"$root/.prune"
	if [ -n "$newest" ]; then
		for d in "$root"/*; do
			n=${d##*/}
			name_ok "$n" || continue
			# Names are times: as digits they compare in time order.
			if [ ! -f "$d/manifest.json" ] && [ "$(echo "$n" | tr -d TZ)" -lt "$(echo "$newest" | tr -d TZ)" ]; then
				say "removing $n: an incomplete backup (no manifest.json) older than $newest"
				rm -rf "${root:?}/$n"
			fi
		done
	fi
	rm -f "$root/.complete" "$root/.prune"
}
