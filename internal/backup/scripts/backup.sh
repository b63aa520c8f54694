# backup: dumps the database and the local media into $BACKUP_ROOT/<name>.
#   BACKUP_ROOT      directory of this Instance's backups (required)
#   BACKUP_NAME      defaults to the current UTC time, 20261202T030000Z
#   SOFTWARE, SOFTWARE_VERSION   recorded in the manifest
#   DB_KIND          postgres (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD)
#                    or sqlite (SQLITE_DB, the live database file)
#   MEDIA_DIR        local media to archive; unset when media is in object storage
#   KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY   retention applied after success
#   TERMINATION_LOG  where the summary goes (the Job's termination message)
: "${BACKUP_ROOT:?BACKUP_ROOT is not set}"
: "${DB_KIND:?DB_KIND is not set (postgres or sqlite)}"
name=${BACKUP_NAME:-$(date -u +%Y%m%dT%H%M%SZ)}
name_ok "$name" || die "backup name $name is not a UTC time such as 20261202T030000Z"
word_ok "${SOFTWARE:-}" || die "SOFTWARE is not set or not a plain word"
word_ok "${SOFTWARE_VERSION:-}" || die "SOFTWARE_VERSION is not set or not a plain version"
dir=$BACKUP_ROOT/$name
if [ -f "$dir/manifest.json" ]; then
	# A retried Job whose first attempt finished the backup (and failed
	# later): the backup stands, never rewritten.
	say "backup $name is already complete"
	done=1
else
	# A partial directory of the same name is this Job's own earlier
	# attempt, cut short: start it again.
	if [ -e "$dir" ]; then
		say "removing $name: an earlier attempt cut short"
		rm -rf "${dir:?}"
	fi
	mkdir -p "$dir"
	done=0
fi
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Not indented: the block holds the manifest's here-document.
if [ "$done" = 0 ]; then
case $DB_KIND in
postgres)
	db=database.pgdump
	say "dumping PostgreSQL database ${PGDATABASE:-?} from ${PGHOST:-?}"
	# Custom format: compressed, restorable table by table, and holding the
	# large objects. pg_dump refuses a server newer than itself, which is
	# why the Job's image follows the server's major version.
	pg_dump --format=custom --no-password --file="$dir/$db"
	;;
sqlite)
	db=database.sqlite
	: "${SQLITE_DB:?SQLITE_DB is not set}"
	[ -f "$SQLITE_DB" ] || die "no SQLite database at $SQLITE_DB"
	say "copying SQLite database $SQLITE_DB through VACUUM INTO"
	# VACUUM INTO reads the database in one read transaction: a consistent
	# snapshot while the server keeps writing (a copy of the file would
	# not be), without blocking it in WAL mode.
	out=$(printf '%s' "$dir/$db" | sed "s/'/''/g")
	sqlite3 -bail -cmd ".timeout 60000" "$SQLITE_DB" "VACUUM INTO '$out'"
	check=$(sqlite3 -bail "$dir/$db" "PRAGMA integrity_check")
	[ "$check" = ok ] || die "the copy of the SQLite database failed its integrity check: $check"
	;;
*) die "DB_KIND must be postgres or sqlite, not $DB_KIND" ;;
esac

parts=$db
if [ -n "${MEDIA_DIR:-}" ]; then
	[ -d "$MEDIA_DIR" ] || die "no media directory at $MEDIA_DIR"
	say "archiving local media from $MEDIA_DIR"
	# The database lives next to the media (GoToSocial): it is in the
	# backup through VACUUM INTO, never as a raw copy of a live file. The
	# top-level entries are listed one by one because busybox's tar may be
	# built without --exclude.
	b=-
	[ "$DB_KIND" = sqlite ] && b=${SQLITE_DB##*/}
	set --
	for f in "$MEDIA_DIR"/* "$MEDIA_DIR"/.[!.]* "$MEDIA_DIR"/..?*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		n=${f##*/}
		case $n in "$b" | "$b-wal" | "$b-shm" | "$b-journal") continue ;; esac
		set -- "$@" "./$n"
	done
	if [ $# -gt 0 ]; then
		tar -cf "$dir/media.tar" -C "$MEDIA_DIR" "$@"
	else
		# An empty archive: two zero blocks, padded to tar's record size.
		head -c 10240 /dev/zero >"$dir/media.tar"
	fi
	parts="$parts media.tar"
fi

(cd "$dir" && sha256sum $parts >SHA256SUMS)
total=0
json=""
for p in $parts; do
	s=$(size_of "$dir/$p")
	h=$(sha256sum "$dir/$p" | cut -d ' ' -f 1)
	total=$((total + s))
	json="$json${json:+,
    }{\"file\": \"$p\", \"size\": $s, \"sha256\": \"$h\"}"
done
sync
cat >"$dir/manifest.json.tmp" <<JSON
{
  "format": "fedcommons-backup/1",
  "name": "$name",
  "software": "$SOFTWARE",
  "version": "$SOFTWARE_VERSION",
  "database": "$DB_KIND",
  "created": "$created",
  "size": $total,
  "parts": [
    $json
  ]
}
JSON
mv "$dir/manifest.json.tmp" "$dir/manifest.json"
sync
fi
total=$(sed -n 's/^  "size": \([0-9]*\),$/\1/p' "$dir/manifest.json")
say "backup $name complete: $total bytes in $dir"
if [ -n "${TERMINATION_LOG:-}" ]; then
	printf '{"name": "%s", "size": %s}\n' "$name" "$total" >"$TERMINATION_LOG" || true
fi
if [ -n "${KEEP_LAST:-}" ]; then
	prune "$BACKUP_ROOT" "$KEEP_LAST" "${KEEP_DAILY:-0}" "${KEEP_WEEKLY:-0}"
fi
