# pglab server identity probe: runs in a throwaway container made from the env's own image, joined
# to one server's pid namespace (never in the server itself, where the student is root). It finds
# the processes listening on PostgreSQL's unix socket and says, for each, whether it is the image's
# PostgreSQL: the same executable (sha256 of what the process runs, not of a file the student can
# replace), no LD_PRELOAD/LD_LIBRARY_PATH/LD_AUDIT, and every executable mapping an unmodified file
# of the image. A fake server, a patched binary or an injected library answering the graders'
# queries is what this finds. Arguments: <pg major>. One line per listener, tab-separated:
#   listener <pid> <socket path> <exe matches 0|1> <preload 0|1> <foreign mappings, comma-separated> <exe path>
use strict;
use warnings;
use Digest::SHA;

my ($PG) = @ARGV;
die "usage: server-identity <pg major>\n" unless $PG && $PG =~ /^[0-9.]+$/;

my %sha;
sub sha {
  my $file = shift;
  open(my $h, '<:raw', $file) or return '';
  my $d = Digest::SHA->new(256);
  $d->addfile($h);
  close $h;
  return $d->hexdigest;
}
sub ownSha { my $f = shift; return $sha{$f} //= (-f $f ? sha($f) : ''); }

my $want = ownSha("/usr/lib/postgresql/$PG/bin/postgres");
die "no postgres $PG in the probe image\n" unless $want;

# Listening unix sockets named .s.PGSQL.<port>, in the server's network namespace (seen through its pid 1).
my %listening;
open(my $unix, '<', '/proc/1/net/unix') or die "net/unix: $!\n";
<$unix>;
while (my $line = <$unix>) {
  my @f = split(' ', $line);
  next unless @f >= 8 && $f[3] eq '00010000';   # __SO_ACCEPTCON: a listening socket
  $listening{$f[6]} = $f[7] if $f[7] =~ m{/\.s\.PGSQL\.\d+$};
}
close $unix;

# Every executable mapping of a process: the same file as the image's at that path, and still the file
# it maps (a library replaced after it was loaded shows "(deleted)" or another inode).
my %checked;
sub foreignMappings {
  my $pid = shift;
  my @foreign;
  open(my $maps, '<', "/proc/$pid/maps") or return ();
  my %done;
  while (my $line = <$maps>) {
    chomp $line;
    my ($range, $perm, $offset, $dev, $inode, $path) = split(' ', $line, 6);
    next unless defined $path && $perm =~ /x/ && $path =~ m{^/};
    next if $done{$path}++;
    my $theirs = "/proc/$pid/root$path";
    my @st = stat($theirs);
    my $key = "$path\0$inode\0" . ($st[1] // '') . "\0" . ($st[9] // '');
    my $same = $checked{$key} //= ($path !~ / \(deleted\)$/ && @st && $st[1] == $inode && ownSha($path) ne '' && sha($theirs) eq ownSha($path)) ? 1 : 0;
    push @foreign, $path unless $same;
  }
  close $maps;
  return @foreign;
}

sub childrenOf {
  my $parent = shift;
  my @children;
  opendir(my $dir, '/proc') or return ();
  for my $pid (grep { /^\d+$/ } readdir $dir) {
    open(my $st, '<', "/proc/$pid/stat") or next;
    my $line = <$st> // '';
    close $st;
    push @children, $pid if $line =~ /\)\s+\S+\s+(\d+)/ && $1 == $parent;
  }
  closedir $dir;
  return @children;
}

opendir(my $proc, '/proc') or die "proc: $!\n";
my @pids = sort { $a <=> $b } grep { /^\d+$/ && $_ != $$ } readdir($proc);
closedir $proc;
for my $pid (@pids) {
  opendir(my $fds, "/proc/$pid/fd") or next;
  my %sockets;
  for my $n (readdir $fds) {
    my $link = readlink("/proc/$pid/fd/$n") // next;
    $sockets{$1} = 1 if $link =~ /^socket:\[(\d+)\]$/ && exists $listening{$1};
  }
  closedir $fds;
  next unless %sockets;
  my $exe = readlink("/proc/$pid/exe") // '?';
  my $exeOk = sha("/proc/$pid/exe") eq $want ? 1 : 0;
  my $environ = '';
  if (open(my $e, '<:raw', "/proc/$pid/environ")) { local $/; $environ = <$e> // ''; close $e; }
  my $preload = $environ =~ /(?:^|\0)LD_(?:PRELOAD|LIBRARY_PATH|AUDIT)=/ ? 1 : 0;
  # Its backends too (the graders' sessions run beside this probe): a library a setting loads into
  # every new session (session_preload_libraries) shows in theirs, not in the postmaster's.
  my %foreign = map { $_ => 1 } foreignMappings($pid);
  for my $child (childrenOf($pid)) { $foreign{$_} = 1 for foreignMappings($child); }
  my @foreign = sort keys %foreign;
  my $paths = join(',', map { $listening{$_} } sort keys %sockets);
  print join("\t", 'listener', $pid, $paths, $exeOk, $preload, join(',', map { s/[,\t\n]/_/gr } @foreign), $exe =~ s/[\t\n]/_/gr), "\n";
}
