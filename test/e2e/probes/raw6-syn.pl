# A student's raw path to the host over IPv6 (issue 17, item 15), run as root inside a lab container:
# through a packet socket, answer-able Neighbor Solicitation then a TCP SYN to the host's link-local
# address on the env's bridge, and report what came back: "no-packet-socket: <error>", or the
# words "na" (the host's IPv6 answered) and "syn-ack" (a host service accepted), or "silence".
# Targets only the address given (the env bridge's own fe80::), bounded to 3 s.
use strict;
use warnings;
use Socket qw(inet_pton AF_INET6);
my ($ifname, $dstmac, $dstip, $port) = @ARGV;
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; my $v = <$f>; chomp $v; $v }
my $ifx = slurp("/sys/class/net/$ifname/ifindex");
my $mymac = slurp("/sys/class/net/$ifname/address");
my @m = map { hex } split /:/, $mymac;
my @e = @m; $e[0] ^= 2;
my $src = pack('H16', 'fe80000000000000') . pack('C8', @e[0 .. 2], 0xff, 0xfe, @e[3 .. 5]);
my $dst = inet_pton(AF_INET6, $dstip) or die "bad address $dstip";
my $ETH_P_IPV6 = 0x86DD;
socket(my $s, 17, 2, unpack('S', pack('n', $ETH_P_IPV6))) or do { print "no-packet-socket: $!\n"; exit 0 };
my $to = pack('S n i S C C a8', 17, $ETH_P_IPV6, $ifx, 0, 0, 6, pack('H12', join '', split /:/, $dstmac));
sub csum {
  my $d = shift; $d .= "\0" if length($d) % 2;
  my $sum = 0; $sum += $_ for unpack 'n*', $d;
  $sum = ($sum >> 16) + ($sum & 0xffff) while $sum >> 16;
  return ~$sum & 0xffff;
}
sub send6 {
  my ($nh, $payload, $csumAt) = @_;
  my $ck = csum($src . $dst . pack('N', length $payload) . pack('x3 C', $nh) . $payload);
  substr($payload, $csumAt, 2, pack('n', $ck));
  my $pkt = pack('N n C C', 0x60000000, length $payload, $nh, 255) . $src . $dst . $payload;
  defined send($s, $pkt, 0, $to) or die "send: $!";
}
# Neighbor Solicitation for the host's address, with our link-layer address: the host learns where to answer.
send6(58, pack('C C n N', 135, 0, 0, 0) . $dst . pack('C C', 1, 1) . pack('C6', @m), 2);
my $sport = 40000 + int(rand(20000));
send6(6, pack('n n N N C C n n n', $sport, $port, int(rand(2**31)), 0, 0x50, 0x02, 65535, 0, 0), 16);
my %seen;
my $end = time + 3;
while (time < $end) {
  my $rin = ''; vec($rin, fileno($s), 1) = 1;
  last unless select(my $rout = $rin, undef, undef, 0.5) >= 0;
  next unless vec($rout // '', fileno($s), 1);
  recv($s, my $buf, 65535, 0);
  next if length($buf) < 40 || substr($buf, 8, 16) ne $dst || substr($buf, 24, 16) ne $src;
  my $nh = unpack('C', substr($buf, 6, 1));
  my $l4 = substr($buf, 40);
  if ($nh == 58 && unpack('C', $l4) == 136) { $seen{na} = 1 }
  if ($nh == 6 && length($l4) >= 20) {
    my ($sp, $dp) = unpack('n n', $l4);
    my $flags = unpack('C', substr($l4, 13, 1));
    $seen{'syn-ack'} = 1 if $sp == $port && $dp == $sport && ($flags & 0x12) == 0x12;
  }
}
print join(' ', sort keys %seen) || 'silence', "\n";
