# pglab server identity probe: runs in a container of lab's own made from the env's image, either in
# the host's pid namespace (lab's inspector, out of the student's sight) or joined to one server's
# (a throwaway probe); never in the server itself, where the student is root. It finds
# the processes listening on PostgreSQL's unix socket and says, for each, whether it is the image's
# PostgreSQL: the same executable (sha256 of what the process runs, not of a file the student can
# replace), no LD_PRELOAD/LD_LIBRARY_PATH/LD_AUDIT, and every executable mapping an unmodified file
# of the image. A fake server, a patched binary or an injected library answering the graders'
# queries is what this finds. Arguments: <pg major> [known hashes file] [emulated 0|1] [server...]
# A server is its container's first process as this probe sees it (1, the default, when joined to
# its namespace), or sock:<socket file>:<socket directory in the server> for a probe that may read
# only what runs as its own user (the observer, as postgres): the server is then found through a
# process whose root holds that very socket file. A listening socket whose process this probe cannot
# read is not the image's PostgreSQL (a genuine one runs as postgres). Per server, a "server <spec>" line, then
# one line per listener, tab-separated (and "hash" lines for lab's cache, see below):
#   listener <pid> <socket path> <exe matches 0|1> <preload 0|1> <foreign mappings, comma-separated> <exe path>
use strict;
use warnings;
use Digest::SHA;
use Time::HiRes ();

my ($PG, $KNOWN, $EMULATED, @SERVERS) = @ARGV;
@SERVERS = (1) unless @SERVERS;
die "usage: server-identity <pg major> [known hashes file] [emulated 0|1] [server...]\n"
  if !$PG || $PG !~ /^[0-9.]+$/ || grep { !m{^(?:[0-9]+|sock:/[\w./-]+:/[\w./-]+)$} } @SERVERS;

sub sha {
  my $file = shift;
  open(my $h, '<:raw', $file) or return '';
  my $d = Digest::SHA->new(256);
  $d->addfile($h);
  close $h;
  return $d->hexdigest;
}

# Hashing is most of the cost (the executable and its libraries, ~100 MB): lab keeps what earlier
# probes hashed (host side, out of the student's reach) and passes it in. The image's own files by
# path (an image never changes); the server's files by device, inode, size, mtime and ctime read with
# nanosecond precision: a file changed in place gets a new ctime, which root cannot set back. New
# hashes are printed as "hash" lines for lab to keep.
my (%own, %theirs);
if ($KNOWN && open(my $k, '<', $KNOWN)) {
  while (my $line = <$k>) {
    chomp $line;
    my ($kind, $key, $hex) = split(/\t/, $line, 3);
    next unless defined $hex && $hex =~ /^[0-9a-f]{64}$/;
    ($kind eq 'own' ? \%own : \%theirs)->{$key} = $hex if $kind eq 'own' || $kind eq 'theirs';
  }
  close $k;
}
sub ownSha {
  my $f = shift;
  return $own{$f} //= do { my $h = -f $f ? sha($f) : ''; print "hash\town\t$f\t$h\n" if $h; $h };
}
sub theirSha {
  my $f = shift;
  my @s = Time::HiRes::stat($f);
  return '' unless @s;
  my $key = join(':', $s[0], $s[1], $s[7], $s[9], $s[10]);
  return $theirs{$key} //= do { my $h = sha($f); print "hash\ttheirs\t$key\t$h\n" if $h; $h };
}

# Their file is the image's at that path: the same size (a huge file cannot make the probe hash past
# its time limit), then the same sha256.
sub sameAsOwn {
  my ($theirs, $path) = @_;
  my @t = stat($theirs);
  my @o = stat($path);
  return @t && @o && -f _ && $t[7] == $o[7] && ownSha($path) ne '' && theirSha($theirs) eq ownSha($path);
}

my $POSTGRES = "/usr/lib/postgresql/$PG/bin/postgres";
my $want = ownSha($POSTGRES);
die "no postgres $PG in the probe image\n" unless $want;

# Under qemu-user (an arm64 env on an amd64 host; lab says so, from the image's architecture) every
# process's executable is the emulator the host registered in binfmt_misc: a qemu-* file that is not
# in the container. Then the program is the guest ELF the emulator maps, and the emulator is not a
# foreign mapping. A student cannot make a process whose executable is outside the container.
sub emulatorOf {
  my $pid = shift;
  return '' unless $EMULATED;
  my $exe = readlink("/proc/$pid/exe") // '';
  return ($exe =~ m{^/[\w./-]*/qemu-[\w.-]+$} && !-e "/proc/$pid/root$exe") ? $exe : '';
}

# Every executable mapping of a process: the same file as the image's at that path, and still the file
# it maps (a library replaced after it was loaded shows "(deleted)" or another inode).
my %checked;
sub foreignMappings {
  my $pid = shift;
  my $EMULATOR = emulatorOf($pid);
  my @foreign;
  open(my $maps, '<', "/proc/$pid/maps") or return ();
  my %done;
  while (my $line = <$maps>) {
    chomp $line;
    my ($range, $perm, $offset, $dev, $inode, $path) = split(' ', $line, 6);
    # Native: code is what is mapped executable. Emulated, guest code is mapped read-only (qemu translates
    # it): every private read-only mapping then (code, rodata, locale data; shared memory is rw-s).
    next unless defined $path && $path =~ m{^/} && ($EMULATOR ? $perm =~ /^r-[-x]p$/ : $perm =~ /x/);
    next if $done{$path}++ || ($EMULATOR && $path eq $EMULATOR);
    my $theirs = "/proc/$pid/root$path";
    my @st = stat($theirs);
    my $key = "$path\0$inode\0" . ($st[1] // '') . "\0" . ($st[9] // '');
    my $same = $checked{$key} //= ($path !~ / \(deleted\)$/ && @st && $st[1] == $inode && sameAsOwn($theirs, $path)) ? 1 : 0;
    push @foreign, $path unless $same;
    # Enough to say it is not the image's (and a process mapping thousands of files cannot make the probe run out of time).
    last if @foreign >= 3;
  }
  close $maps;
  return @foreign;
}

# The inode of a mapping of `path` in a process, if it has one.
sub guestMapping {
  my ($pid, $want) = @_;
  open(my $maps, '<', "/proc/$pid/maps") or return;
  while (my $line = <$maps>) {
    chomp $line;
    my ($range, $perm, $offset, $dev, $inode, $path) = split(' ', $line, 6);
    return $inode if defined $path && $path eq $want;
  }
  return;
}

sub childrenOf {
  my ($parent, @pids) = @_;
  my @children;
  for my $pid (@pids) {
    open(my $st, '<', "/proc/$pid/stat") or next;
    my $line = <$st> // '';
    close $st;
    push @children, $pid if $line =~ /\)\s+\S+\s+(\d+)/ && $1 == $parent;
  }
  return @children;
}

# A pid as the student sees it in the server (the innermost of NSpid), for messages.
sub serverPid {
  my $pid = shift;
  open(my $st, '<', "/proc/$pid/status") or return $pid;
  while (my $line = <$st>) { return $1 if $line =~ /^NSpid:.*\s(\d+)\s*$/; }
  return $pid;
}

# Listening unix sockets named .s.PGSQL.<port>, in the server's network namespace (seen through its first process).
sub listeningSockets {
  my $init = shift;
  my %listening;
  open(my $unix, '<', "/proc/$init/net/unix") or return;
  <$unix>;
  while (my $line = <$unix>) {
    my @f = split(' ', $line);
    next unless @f >= 8 && $f[3] eq '00010000';   # __SO_ACCEPTCON: a listening socket
    $listening{$f[6]} = $f[7] if $f[7] =~ m{/\.s\.PGSQL\.\d+$};
  }
  close $unix;
  return %listening;
}

# A process of the server whose socket file is `file` (seen here) and `dir/<same name>` in the server:
# the first readable process whose root holds that very file (same device and inode).
sub processWithSocket {
  my ($file, $dir) = @_;
  my @want = stat($file) or return;
  my $name = (split m{/}, $file)[-1];
  opendir(my $proc, '/proc') or return;
  for my $pid (grep { /^\d+$/ && $_ != $$ } readdir($proc)) {
    my @st = stat("/proc/$pid/root$dir/$name");
    return $pid if @st && $st[0] == $want[0] && $st[1] == $want[1];
  }
  return;
}

sub inspectServer {
  my $spec = shift;
  print "server\t$spec\n";
  my $init = $spec;
  if ($spec =~ m{^sock:(.+):(.+)$}) {
    # No readable process holds the socket answering there: whatever listens is not the image's PostgreSQL.
    my $path = "$2/" . (split m{/}, $1)[-1];
    $init = processWithSocket($1, $2) // return print join("\t", 'listener', 0, $path, 0, 0, '', '(unreadable)'), "\n";
  }
  # A server that stopped meanwhile: no verdict on it ("gone"), the others are still looked at.
  my $ns = readlink("/proc/$init/ns/pid") // return print "gone\t$spec\n";
  -r "/proc/$init/net/unix" or return print "gone\t$spec\n";
  my %listening = listeningSockets($init);
  my %attributed;
  opendir(my $proc, '/proc') or die "proc: $!\n";
  # The server's processes are those in its pid namespace (in the host's, every container's are visible).
  my @pids = sort { $a <=> $b } grep { /^\d+$/ && $_ != $$ && (readlink("/proc/$_/ns/pid") // '') eq $ns } readdir($proc);
  closedir $proc;
  for my $pid (@pids) {
    opendir(my $fds, "/proc/$pid/fd") or next;
    my %sockets;
    for my $n (readdir $fds) {
      my $link = readlink("/proc/$pid/fd/$n") // next;
      $sockets{$1} = $attributed{$1} = 1 if $link =~ /^socket:\[(\d+)\]$/ && exists $listening{$1};
    }
    closedir $fds;
    next unless %sockets;
    my $exe = readlink("/proc/$pid/exe") // '?';
    my $exeOk;
    if (emulatorOf($pid) ne '') {
      # The guest program: the image's postgres mapped from the file at its path (same inode, same content).
      my ($inode) = guestMapping($pid, $POSTGRES);
      my @st = defined $inode ? stat("/proc/$pid/root$POSTGRES") : ();
      $exeOk = @st && $st[1] == $inode && sameAsOwn("/proc/$pid/root$POSTGRES", $POSTGRES) ? 1 : 0;
      $exe = $exeOk ? "$POSTGRES (emulated)" : "$exe (emulated)";
    } else {
      $exeOk = sameAsOwn("/proc/$pid/exe", $POSTGRES) ? 1 : 0;
    }
    my $environ = '';
    if (open(my $e, '<:raw', "/proc/$pid/environ")) { local $/; $environ = <$e> // ''; close $e; }
    my $preload = $environ =~ /(?:^|\0)LD_(?:PRELOAD|LIBRARY_PATH|AUDIT)=/ ? 1 : 0;
    # Its backends too (the graders' sessions run beside this probe): a library a setting loads into
    # every new session (session_preload_libraries) shows in theirs, not in the postmaster's.
    # Its mappings only matter when its executable is the image's (otherwise it is not, whatever it maps).
    my %foreign = $exeOk ? map { $_ => 1 } foreignMappings($pid) : ();
    for my $child ($exeOk && !%foreign ? childrenOf($pid, @pids) : ()) {
      $foreign{$_} = 1 for foreignMappings($child);
      last if %foreign;
    }
    my @foreign = sort keys %foreign;
    my $paths = join(',', map { $listening{$_} } sort keys %sockets);
    print join("\t", 'listener', serverPid($pid), $paths, $exeOk, $preload, join(',', map { s/[,\t\n]/_/gr } @foreign), $exe =~ s/[\t\n]/_/gr), "\n";
  }
  # Listening, but by no process this probe can read (root's, to the observer): not the image's PostgreSQL.
  for my $inode (grep { !$attributed{$_} } sort keys %listening) {
    print join("\t", 'listener', 0, $listening{$inode} =~ s/[,\t\n]/_/gr, 0, 0, '', '(unreadable)'), "\n";
  }
}

inspectServer($_) for @SERVERS;
