# pglab observer: runs in the env's sidecar container pglab-<env>-observer (the env's own pg image,
# as postgres, no network), never inside maestro/esclavo. It watches every server through
# PostgreSQL's own protocol (the server's unix socket, shared read-only from a volume) and reads the
# servers' data volumes mounted read-only with this image's binaries, and appends a record only
# when a server's state changes (src/observer/records.ts reads and verifies them). Every record
# carries an HMAC-SHA256 under a key kept on the observer's own volume, which the lab servers
# never mount. In the host's pid namespace (as postgres, no capabilities), it also checks that what
# answers on a server's socket is the image's PostgreSQL before it records what that server said
# (server-identity.pl, given in PGLAB_IDENTITY_SCRIPT): a record made while a fake server, a patched
# binary or an injected library answered says "id":"bad", and lab does not believe it.
# Arguments: <pg major> <wal page magic> <role>...
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);
use Fcntl qw(O_WRONLY O_APPEND O_CREAT);

my ($PG, $MAGIC, @ROLES) = @ARGV;
die "usage: pglab-observer <pg> <magic> <role>...\n" unless $PG && $MAGIC && @ROLES;
my $HOME = '/var/lib/postgresql';
my $LOG = "$HOME/observer.log";
my $KEYFILE = "$HOME/observer.key";
my $BIN = "/usr/lib/postgresql/$PG/bin";
my $EVERY = $ENV{PGLAB_OBSERVER_INTERVAL} || 4;
# Transitions are few (a tutorial makes ~100); the cap bounds what a student toggling a server can cost.
my $MAX_BYTES = $ENV{PGLAB_OBSERVER_MAX_BYTES} || 4 * 1024 * 1024;
# Positions (replay/write LSN) are progress, not state: the first change after a transition is
# recorded at once (a standby applying WAL), later ones spaced out more and more.
sub posEvery { my $n = shift; return $n < 200 ? 10 : $n < 2000 ? 60 : 600; }
my $posCount = 0;
my $V91 = $PG eq '9.1';
my $WALDIR = $V91 ? 'pg_xlog' : 'pg_wal';
my $IDENTITY = $ENV{PGLAB_IDENTITY_SCRIPT} // '';
my $EMULATED = $ENV{PGLAB_EMULATED} ? 1 : 0;
# Alone in its own pid namespace (an observer made before the host's was asked for) it is pid 1 and
# cannot see the servers' processes: no identity, records as before.
my $HOSTPID = $$ != 1;
my $SOCKDIR = '/run/postgresql';
my $KNOWN = "$HOME/identity-hashes.tsv";
$ENV{LC_ALL} = 'C';
$ENV{PGCONNECT_TIMEOUT} = 3;
$ENV{PGUSER} = 'postgres';
umask 077;

# The key: made once, on the observer's own volume.
unless (-s $KEYFILE) {
  open(my $r, '<:raw', '/dev/urandom') or die "urandom: $!";
  read($r, my $bytes, 32) == 32 or die "urandom short read";
  close $r;
  open(my $k, '>', "$KEYFILE.tmp") or die "key: $!";
  print $k unpack('H*', $bytes), "\n";
  close $k;
  rename "$KEYFILE.tmp", $KEYFILE or die "key: $!";
}
open(my $kf, '<', $KEYFILE) or die "key: $!";
my $KEY = <$kf>;
close $kf;
chomp $KEY;

# What earlier runs recorded: the sequence goes on, segments are not recorded twice.
my $seq = 0;
my (%shipped, %arrived);
if (open(my $old, '<', $LOG)) {
  while (my $line = <$old>) {
    $seq = $1 if $line =~ /^\{"n":(\d+),/;
    $shipped{$1} = 1 if $line =~ /"t":"shipped".*"seg":"([0-9A-F]{24})"/;
    $arrived{"$1/$2"} = 1 if $line =~ /"t":"arrived".*"role":"(\w+)".*"seg":"([0-9A-F]{24})"/;
  }
  close $old;
}
my $full = (-s $LOG || 0) > $MAX_BYTES;

sub jstr { my $v = shift // ''; $v =~ s/[^\w .:\/,=+-]//g; return qq("$v"); }

sub record {
  my (%f) = @_;
  return if $full;
  my $t = delete $f{t};
  my $json = sprintf('{"n":%d,"at":%d,"t":%s', ++$seq, time, jstr($t));
  $json .= ',' . jstr($_) . ':' . ($f{$_} =~ /^-?\d{1,15}$/ ? $f{$_} : jstr($f{$_})) for sort keys %f;
  $json .= '}';
  if ((-s $LOG || 0) > $MAX_BYTES) {
    $full = 1;
    $json = sprintf('{"n":%d,"at":%d,"t":"full"}', $seq, time);
  }
  sysopen(my $fh, $LOG, O_WRONLY | O_APPEND | O_CREAT, 0600) or return;
  syswrite($fh, $json . "\t" . hmac_sha256_hex($json, $KEY) . "\n");
  close $fh;
}

sub run {
  my @argv = @_;
  my $limit = $argv[0] =~ /^\d+$/ ? shift(@argv) : 8;
  my $pid = open(my $out, '-|');
  return '' unless defined $pid;
  if (!$pid) {
    open(STDERR, '>', '/dev/null');
    exec('timeout', '-k', '2', $limit, @argv) or exit 127;
  }
  local $/;
  my $text = <$out> // '';
  close $out;
  return $? == 0 ? $text : undef;
}

my $SQL91 = q{SELECT pg_is_in_recovery(),
 CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_xlog_replay_location()::text, '') ELSE pg_current_xlog_location()::text END,
 coalesce(pg_last_xlog_receive_location()::text, ''), '',
 coalesce((SELECT string_agg(coalesce(host(client_addr), 'local') || '/' || coalesce(state, '') || '/' || coalesce(sync_state, ''), ',' ORDER BY 1) FROM pg_stat_replication), ''),
 current_setting('archive_mode'), current_setting('archive_command'), '', ''};
my $SQL = q{SELECT pg_is_in_recovery(),
 CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_replay_lsn()::text, '') ELSE pg_current_wal_lsn()::text END,
 coalesce(pg_last_wal_receive_lsn()::text, ''), coalesce((SELECT status FROM pg_stat_wal_receiver), ''),
 coalesce((SELECT string_agg(coalesce(host(client_addr), 'local') || '/' || coalesce(state, '') || '/' || coalesce(sync_state, ''), ',' ORDER BY 1) FROM pg_stat_replication), ''),
 current_setting('archive_mode'), current_setting('archive_command'),
 (SELECT archived_count || '/' || coalesce(last_archived_wal, '') || '/' || failed_count FROM pg_stat_archiver),
 CASE WHEN pg_is_in_recovery() THEN '' ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END};

my (%control, %controlStamp, %last, %lastPos, %lastArch, %badArrival, %lastId);

sub controldata {
  my $role = shift;
  my $file = "/srv/$role/home/$PG/main/global/pg_control";
  my @st = stat($file);
  my $stamp = @st ? "$st[9]/$st[7]/$st[1]" : '';
  return $control{$role} if defined $controlStamp{$role} && $controlStamp{$role} eq $stamp;
  $controlStamp{$role} = $stamp;
  my %c = (sysid => '', tli => '', cstate => '');
  if (@st) {
    my $text = run("$BIN/pg_controldata", "/srv/$role/home/$PG/main") // '';
    $c{sysid} = $1 if $text =~ /^Database system identifier:\s+(\d+)/m;
    $c{tli} = $1 if $text =~ /^Latest checkpoint's TimeLineID:\s+(\d+)/m;
    $c{cstate} = $1 if $text =~ /^Database cluster state:\s+(.+?)\s*$/m;
  }
  return $control{$role} = \%c;
}

# A segment that reached a standby's archive: its first page's long header, for records.ts to validate.
sub scanArchive {
  my $role = shift;
  my $dir = "/srv/$role/home/wal_archive";
  opendir(my $dh, $dir) or return;
  my @names = sort grep { /^[0-9A-F]{24}$/ && !$arrived{"$role/$_"} } readdir($dh);
  closedir $dh;
  for my $name (@names) {
    my @st = stat("$dir/$name");
    next unless @st;
    my $key = "$role/$name";
    next if ($badArrival{$key} // '') eq "$st[9]/$st[7]";
    open(my $fh, '<:raw', "$dir/$name") or next;
    my $n = read($fh, my $head, 40);
    close $fh;
    if (!$n || $n < 40 || unpack('v', $head) != $MAGIC) { $badArrival{$key} = "$st[9]/$st[7]"; next; }
    $arrived{$key} = 1;
    record(t => 'arrived', role => $role, seg => $name, size => $st[7], head => unpack('H*', $head));
  }
}

# 9.1 has no pg_stat_archiver: the archiver's .done marks, seen appearing while archiving is on.
sub scanDone {
  my $role = shift;
  opendir(my $dh, "/srv/$role/home/$PG/main/$WALDIR/archive_status") or return;
  my @done = sort grep { /^[0-9A-F]{24}\.done$/ } readdir($dh);
  closedir $dh;
  for my $f (@done) {
    my $seg = substr($f, 0, 24);
    next if $shipped{$seg};
    $shipped{$seg} = 1;
    record(t => 'shipped', role => $role, seg => $seg, how => 'done');
  }
}

# Is what answers on this server's socket the image's PostgreSQL? ok, bad, or '' (no verdict: no
# socket, the probe failed, an observer that cannot see the servers). Hashes it computed are kept
# on this volume (server-identity.pl reads them back), so a look rehashes only what changed.
sub identity {
  my $role = shift;
  return '' unless $IDENTITY && $HOSTPID;
  my ($sock) = grep { !/\.lock$/ && -S $_ } glob("/srv/$role/run/.s.PGSQL.*");
  return '' unless $sock && $sock =~ m{^/[\w./-]+$};
  # Its first run hashes the program and its libraries (~100 MB; longer emulated), later ones only what changed.
  my $out = run($EMULATED ? 60 : 20, 'perl', '-e', $IDENTITY, $PG, $KNOWN, $EMULATED, "sock:$sock:$SOCKDIR") // return '';
  my @hashes = grep { /^hash\t(own|theirs)\t[^\t\n]+\t[0-9a-f]{64}$/ } split(/\n/, $out);
  if (@hashes) {
    # Bounded: a student changing files in a loop cannot grow it past ~1 MB (it starts over).
    unlink $KNOWN if (-s $KNOWN || 0) > 1024 * 1024;
    if (open(my $k, '>>', $KNOWN)) { print $k join("\n", map { s/^hash\t//r } @hashes), "\n"; close $k; }
  }
  return '' if $out =~ /^gone\t/m;
  my @listeners = map { [split(/\t/, $_, -1)] } grep { /^listener\t/ } split(/\n/, $out);
  return '' unless @listeners;
  return (grep { @$_ < 7 || $_->[3] ne '1' || $_->[4] ne '0' || $_->[5] ne '' } @listeners) ? 'bad' : 'ok';
}

# The verdict for this look's records about a server, asked once per look and only when there is
# something to record: a look that records nothing costs no probe.
my %lookId;
sub lookId { my $role = shift; return $lookId{$role} //= identity($role); }

sub observe {
  my $role = shift;
  delete $lookId{$role};
  my $c = controldata($role);
  my $row = run("$BIN/psql", '-X', '-A', '-t', '-q', '-F', "\x1f", '-h', "/srv/$role/run", '-d', 'postgres', '-c', $V91 ? $SQL91 : $SQL);
  my %s = (up => defined $row ? 1 : 0, sysid => $c->{sysid}, tli => $c->{tli}, cstate => $c->{cstate}, rec => '', snd => '', wr => '', arch => '');
  my ($lsn, $rcv, $archiver) = ('', '', '');
  if (defined $row) {
    chomp $row;
    my ($rec, $l, $r, $wr, $snd, $mode, $command, $a, $walTli) = split(/\x1f/, $row, -1);
    # 10+ promote before the end-of-recovery checkpoint: pg_control's timeline follows seconds later, the
    # current WAL file's name (its first 8 hex digits) has it at once.
    if (($walTli // '') =~ /^[0-9A-F]{8}$/) {
      my $t = hex($walTli);
      $s{tli} = $t if $s{tli} eq '' || $t > $s{tli};
    }
    $s{rec} = $rec // '';
    $s{wr} = $wr // '';
    $s{snd} = $snd // '';
    $command //= '';
    $s{arch} = (($mode // '') eq 'on' && $command ne '' && $command ne '(disabled)') ? 1 : 0;
    ($lsn, $rcv, $archiver) = ($l // '', $r // '', $a // '');
  }
  my $state = join('|', map { $s{$_} } sort keys %s);
  # After a record lab will not believe, the same state said by the real server is recorded again.
  my $distrusted = ($lastId{$role} // '') eq 'bad';
  my $id = $s{up} && (!defined $last{$role} || $last{$role} ne $state || $distrusted) ? lookId($role) : '';
  if (!defined $last{$role} || $last{$role} ne $state || ($distrusted && $id ne 'bad')) {
    $last{$role} = $state;
    $lastPos{$role} = 0;
    $lastId{$role} = $id;
    record(t => 'server', role => $role, %s, lsn => $lsn, rcv => $rcv, ($id ne '' ? (id => $id) : ()));
  } elsif ($lsn ne '' && time - ($lastPos{$role} // 0) >= posEvery($posCount) && ($lastPos{"$role/lsn"} // '') ne "$lsn/$rcv") {
    $lastPos{$role} = time;
    $posCount++;
    my $posId = lookId($role);
    record(t => 'pos', role => $role, lsn => $lsn, rcv => $rcv, ($posId ne '' ? (id => $posId) : ()));
  }
  $lastPos{"$role/lsn"} = "$lsn/$rcv";
  # 9.4+: what the archiver itself reports shipped (the student cannot write these counters).
  # The last one archived may be a backup history file (000000010000000000000002.00000028.backup, archived
  # by pg_stop_backup after the segments it needs): its segment was shipped too.
  if ($archiver =~ m{^(\d+)/(?:([0-9A-F]{24})(?:\.[0-9A-F]{8}\.backup|\.partial)?|[^/]*)/(\d+)$} && $s{rec} eq 'f') {
    my ($count, $seg) = ($1, $2 // '');
    if ($seg ne '' && ($lastArch{$role} // '') ne "$count/$seg") {
      $lastArch{$role} = "$count/$seg";
      if (!$shipped{$seg}) {
        # What a fake server says it archived is recorded as such (not believed), and asked again later.
        my $aid = lookId($role);
        $shipped{$seg} = 1 unless $aid eq 'bad';
        record(t => 'shipped', role => $role, seg => $seg, how => 'pg_stat_archiver', count => $count, ($aid ne '' ? (id => $aid) : ()));
      }
    }
  }
  scanDone($role) if $V91 && $s{up} && $s{rec} eq 'f' && $s{arch};
  scanArchive($role) if $role ne 'maestro';
}

# A look on demand: lab (never the student, who cannot reach this container) leaves a request file
# in $REQUESTS and sends SIGUSR1; the request is removed after a look that began after it was made,
# so a `lab check` right after the student's last command judges that command (no 4-second race).
my $REQUESTS = "$HOME/look-requests";
mkdir $REQUESTS unless -d $REQUESTS;
# Where lab sends its signal: in the host's pid namespace this process is not pid 1.
if (open(my $pf, '>', "$HOME/observer.pid.tmp")) { print $pf "$$\n"; close $pf; rename "$HOME/observer.pid.tmp", "$HOME/observer.pid"; }
my $wake = 0;
$SIG{USR1} = sub { $wake = 1 };
record(t => 'start', pg => $PG, roles => join(',', @ROLES));
$SIG{TERM} = sub { exit 0 };
while (1) {
  $wake = 0;
  my @asked = glob("$REQUESTS/*");
  observe($_) for @ROLES;
  unlink @asked;
  # A signal during the look asks for one more; sleep is cut short by a signal arriving during it.
  sleep $EVERY unless $wake;
}
