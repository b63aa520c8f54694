# restore: puts backup $BACKUP_ROOT/$BACKUP_NAME back, before the server's
# first start. Same variables as backup.sh. The database is restored last,
# so a Job retried after a failure starts again from a clean state.
: "${BACKUP_ROOT:?BACKUP_ROOT is not set}"
: "${BACKUP_NAME:?BACKUP_NAME is not set}"
: "${DB_KIND:?DB_KIND is not set (postgres or sqlite)}"
name_ok "$BACKUP_NAME" || die "backup name $BACKUP_NAME is not a UTC time such as 20261202T030000Z"
dir=$BACKUP_ROOT/$BACKUP_NAME
[ -d "$dir" ] || die "no backup $BACKUP_NAME in $BACKUP_ROOT"
[ -f "$dir/manifest.json" ] || die "backup $BACKUP_NAME is incomplete (no manifest.json): it was cut short; restore another one"
grep -q "\"database\": \"$DB_KIND\"" "$dir/manifest.json" || die "backup $BACKUP_NAME is not of a $DB_KIND database (see its manifest.json)"
if [ -n "${SOFTWARE:-}" ]; then
	grep -q "\"software\": \"$SOFTWARE\"" "$dir/manifest.json" || die "backup $BACKUP_NAME is not of $SOFTWARE (see its manifest.json)"
fi
v=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dir/manifest.json")
# An older backup is fine (the software migrates it as in an upgrade); the
# versions are said so that a sysadmin can tell.
say "backup $BACKUP_NAME was taken from ${SOFTWARE:-the software} $v; this Instance runs ${SOFTWARE_VERSION:-an unknown version}"
say "checking the checksums of backup $BACKUP_NAME"
(cd "$dir" && sha256sum -c SHA256SUMS) || die "backup $BACKUP_NAME does not match its checksums: it is damaged"

if [ -f "$dir/media.tar" ]; then
	[ -n "${MEDIA_DIR:-}" ] || die "backup $BACKUP_NAME holds local media but this Instance keeps media in object storage: copy media.tar into the bucket by hand, or restore onto a volume"
	mkdir -p "$MEDIA_DIR"
	say "extracting media into $MEDIA_DIR"
	tar -xf "$dir/media.tar" -C "$MEDIA_DIR"
fi

case $DB_KIND in
postgres)
	# Into an empty database only: restoring over a live server's data
	# would mix two histories.
	n=$(psql --no-password -X -A -t -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')")
	[ "$n" = 0 ] || die "database ${PGDATABASE:-?} is not empty ($n tables, views or sequences): restore only goes into a new, empty database"
	say "restoring PostgreSQL database ${PGDATABASE:-?} from $BACKUP_NAME"
	# --no-owner/--no-acl: objects belong to the Instance's database user,
	# whatever the roles were called where the backup was taken.
	# --single-transaction: a failed restore leaves the database empty.
	pg_restore --clean --if-exists --no-owner --no-acl --exit-on-error --single-transaction --no-password --dbname="${PGDATABASE:?PGDATABASE is not set}" "$dir/database.pgdump"
	;;
sqlite)
	: "${SQLITE_DB:?SQLITE_DB is not set}"
	if [ -s "$SQLITE_DB" ]; then
		a=$(sha256sum "$SQLITE_DB" | cut -d ' ' -f 1)
		b=$(sha256sum "$dir/database.sqlite" | cut -d ' ' -f 1)
		[ "$a" = "$b" ] || die "a database already exists at $SQLITE_DB: restore only goes into a new Instance, before its server starts"
		say "database already restored from $BACKUP_NAME"
	else
		say "placing SQLite database $SQLITE_DB from $BACKUP_NAME"
		# Journal files without their database would be applied to the
		# restored one by the server: they cannot belong to it.
		rm -f "$SQLITE_DB-wal" "$SQLITE_DB-shm" "$SQLITE_DB-journal"
		cp "$dir/database.sqlite" "$SQLITE_DB.restoring"
		mv "$SQLITE_DB.restoring" "$SQLITE_DB"
	fi
	;;
*) die "DB_KIND must be postgres or sqlite, not $DB_KIND" ;;
esac
sync
say "restore of $BACKUP_NAME complete"
if [ -n "${TERMINATION_LOG:-}" ]; then
	printf '{"name": "%s", "version": "%s"}\n' "$BACKUP_NAME" "$v" >"$TERMINATION_LOG" || true
fi
