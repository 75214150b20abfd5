# pglab file reader: runs in lab's inspector (a container of lab's own, in the host's pid namespace,
# see src/docker/probe-container.ts), never in a server. It reads paths of several servers in one
# exec, as the engine's archive API would (the path, then its children; symlinks not followed),
# each server's from inside its root: a child process chroots into /proc/<pid>/root, so absolute
# symlinks resolve in the server's tree, not the inspector's. One exec instead of an archive call
# per path (each costs the engine ~50 ms of CPU).
#
# The root is believed only when the process's "/" is its container's own overlay (the upperdir
# Docker reports for it, which nobody inside can mount): a process chrooted into a tree of the
# student's (root in the container may inject a chroot into its init) is refused, and lab reads
# those paths through the archive API instead.
#
# Arguments: <timeout s> <pid>:<upperdir hex>...  Requests on stdin, one a line, space-separated:
#   <id> <pid> <max entries> <max data per file> <max stream bytes> <stop after> <path hex>
# Output per entry:  E <id> <type f|d|l|h|o> <size> <mode> <uid> <mtime> <name hex> <link hex> <data length>\n<data>
# then per request:  D <id> <ok|missing|unverified|error> <truncated 0|1>\n
use strict;
use warnings;
use Fcntl qw(O_RDONLY O_NONBLOCK O_NOFOLLOW O_NOCTTY S_ISREG S_ISDIR S_ISLNK S_ISSOCK);
use POSIX ();
use IO::Handle ();

my ($TIMEOUT, @ROOTS) = @ARGV;
die "usage: file-reader <timeout s> <pid>:<upperdir hex>...\n" if !$TIMEOUT || $TIMEOUT !~ /^[0-9]+$/ || grep { !/^[0-9]+:[0-9a-f]*$/ } @ROOTS;
my %upper = map { my ($p, $h) = split /:/; ($p => pack('H*', $h)) } @ROOTS;

my %requests;
while (my $line = <STDIN>) {
  chomp $line;
  my ($id, $pid, $max, $keep, $stream, $stop, $hex) = split / /, $line;
  next unless defined $hex && $id =~ /^[0-9]+$/ && exists $upper{$pid} && "$max$keep$stream$stop" =~ /^[0-9]+$/;
  push @{ $requests{$pid} }, { id => $id, max => $max, keep => $keep, stream => $stream, stop => $stop, path => pack('H*', $hex) };
}
binmode STDOUT;

# The "/" of the process is its container's overlay: the last mount on "/" (a later one covers an
# earlier), root "/" of that filesystem, with the upperdir Docker gave the container.
sub root_is_container {
  my ($pid) = @_;
  my $want = $upper{$pid};
  return 0 unless length $want;
  open(my $m, '<', "/proc/$pid/mountinfo") or return 0;
  my $top;
  while (my $l = <$m>) {
    my ($pre, $post) = split / - /, $l, 2;
    next unless defined $post;
    my @f = split / /, $pre;
    $top = [$f[3], $post] if defined $f[4] && $f[4] eq '/';
  }
  close $m;
  return 0 unless $top && $top->[0] eq '/';
  my ($type, undef, $opts) = split / /, $top->[1];
  chomp $opts if defined $opts;
  return 0 unless $type eq 'overlay' && defined $opts;
  return scalar grep { $_ eq "upperdir=$want" } split /,/, $opts;
}

sub done { printf "D %s %s %d\n", $_[0]{id}, $_[1], $_[2] ? 1 : 0 }

for my $pid (sort keys %requests) {
  my @reqs = @{ $requests{$pid} };
  unless (root_is_container($pid)) {
    done($_, 'unverified', 0) for @reqs;
    next;
  }
  STDOUT->flush;
  my $child = fork;
  if (!defined $child) {
    done($_, 'error', 0) for @reqs;
    next;
  }
  if ($child == 0) {
    alarm $TIMEOUT;
    # Inside the server's tree from here: no module may load (it would be the student's file), so
    # none is asked for, and @INC is empty should perl try.
    if (!chroot("/proc/$pid/root") || !chdir('/')) {
      done($_, 'unverified', 0) for @reqs;
      POSIX::_exit(0);
    }
    @INC = ();
    read_request($_) for @reqs;
    STDOUT->flush;
    POSIX::_exit(0);
  }
  waitpid($child, 0);
}
exit 0;

sub read_request {
  my ($r) = @_;
  my $path = $r->{path};
  my @st = lstat($path);
  return done($r, 'missing', 0) unless @st;
  (my $base = $path) =~ s{/+$}{};
  $base =~ s{.*/}{};
  $base = '.' if $base eq '';
  my $state = { r => $r, n => 0, streamed => 0, links => {}, stop => 0, truncated => 0 };
  walk($state, $path, $base, \@st);
  done($r, 'ok', $state->{truncated});
}

# Depth first, children in byte order (as Go's filepath.Walk, which the archive API uses).
sub walk {
  my ($s, $path, $name, $st) = @_;
  return if $s->{stop};
  my $mode = $st->[2];
  return if S_ISSOCK($mode); # the archive API leaves sockets out
  my $r = $s->{r};
  if ($s->{n} >= $r->{max}) {
    $s->{truncated} = 1;
    $s->{stop} = 1;
    return;
  }
  my ($type, $size, $link, $data) = ('o', 0, '', '');
  if (S_ISREG($mode)) {
    my $key = "$st->[0]:$st->[1]";
    if ($st->[3] > 1 && exists $s->{links}{$key}) {
      ($type, $link) = ('h', $s->{links}{$key});
    } else {
      $s->{links}{$key} = $name if $st->[3] > 1;
      ($type, $size) = ('f', $st->[7]);
      $data = read_head($path, $st, $r->{keep});
    }
  } elsif (S_ISDIR($mode)) {
    $type = 'd';
  } elsif (S_ISLNK($mode)) {
    $type = 'l';
    $link = readlink($path) // '';
  }
  my $mtime = $st->[9];
  printf "E %s %s %d %d %d %d %s %s %d\n", $r->{id}, $type, $size, $mode & 0177777, $st->[4], $mtime, unpack('H*', $name), unpack('H*', $link), length $data;
  print $data;
  $s->{n}++;
  # What this answer holds (the archive API would stream whole files; this reads only what is kept).
  $s->{streamed} += 512 + length $data;
  if ($r->{stop} && $s->{n} >= $r->{stop}) {
    $s->{stop} = 1;
    return;
  }
  if ($s->{streamed} > $r->{stream}) {
    $s->{truncated} = 1;
    $s->{stop} = 1;
    return;
  }
  return unless $type eq 'd';
  opendir(my $d, $path) or return;
  my @names = sort grep { $_ ne '.' && $_ ne '..' } readdir $d;
  closedir $d;
  for my $child (@names) {
    my @cst = lstat("$path/$child");
    next unless @cst;
    walk($s, "$path/$child", "$name/$child", \@cst);
    return if $s->{stop};
  }
}

# The first bytes of a regular file, opened without following a link and without blocking (a
# path swapped for a fifo or a link after the lstat is not read), and only if it is still that file.
sub read_head {
  my ($path, $st, $keep) = @_;
  return '' unless $keep > 0;
  sysopen(my $h, $path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY) or return '';
  my @now = stat($h);
  if (!@now || !S_ISREG($now[2]) || $now[0] != $st->[0] || $now[1] != $st->[1]) {
    close $h;
    return '';
  }
  my $want = $keep < $st->[7] ? $keep : $st->[7];
  my $data = '';
  while (length($data) < $want) {
    my $n = sysread($h, $data, $want - length($data), length $data);
    last unless $n;
  }
  close $h;
  return $data;
}
