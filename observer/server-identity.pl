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
  # Every executable mapping: the same file as the image's at that path, and still the file it maps
  # (a library replaced after it was loaded shows "(deleted)" or another inode).
  my (@foreign, %done);
  if (open(my $maps, '<', "/proc/$pid/maps")) {
    while (my $line = <$maps>) {
      chomp $line;
      my ($range, $perm, $offset, $dev, $inode, $path) = split(' ', $line, 6);
      next unless defined $path && $perm =~ /x/ && $path =~ m{^/};
      next if $done{$path}++;
      my $theirs = "/proc/$pid/root$path";
      my @st = stat($theirs);
      my $same = $path !~ / \(deleted\)$/ && @st && $st[1] == $inode && ownSha($path) ne '' && sha($theirs) eq ownSha($path);
      push @foreign, $path unless $same;
    }
    close $maps;
  }
  my $paths = join(',', map { $listening{$_} } sort keys %sockets);
  print join("\t", 'listener', $pid, $paths, $exeOk, $preload, join(',', map { s/[,\t\n]/_/gr } @foreign), $exe =~ s/[\t\n]/_/gr), "\n";
}
