//go:build !js && !wasip1

package kalamcontainer

// relayScript is the entrypoint RunCluster puts in front of the server in
// every node: it forwards TCP ports ("listen=target" arguments), then execs
// the server (the arguments after "--"), so the server stays the
// container's main process and the relays die with it.
//
// Why relays: KalamDB refuses a multi-node cluster on non-loopback
// addresses without RPC TLS, and v0.4.2-rc.3 panics setting RPC TLS up (no
// rustls CryptoProvider chosen). So the nodes are configured as a loopback
// cluster, where every node is 127.0.0.1:<its own port>, and these relays
// carry each peer's loopback port over the private network. A peer's RPC
// must come from the address configured for it (127.0.0.1), so each node
// also relays its inbound ports to its loopback: the server sees 127.0.0.1.
//
// Before that, it adds KALAMCONTAINER_CLUSTER_TOML to the server's config
// file (the command's *.toml argument) unless the file has a [cluster]
// section already: Raft settings no environment variable reaches.
//
// Perl because it is in every Debian and Ubuntu image (perl-base is
// essential), which the KalamDB images are built on; nothing is installed.
// Keepalive and TCP_USER_TIMEOUT (18) end a relayed connection whose peer
// vanished (a partition) within seconds, so the server reconnects instead
// of waiting on a dead socket for minutes.
const relayScript = `use strict; use IO::Socket::INET; use IO::Select; use POSIX ();
use Socket qw(IPPROTO_TCP TCP_NODELAY SOL_SOCKET SO_KEEPALIVE);
my @fw; while (@ARGV && $ARGV[0] ne '--') { push @fw, shift @ARGV } shift @ARGV;
if (my $sec = $ENV{KALAMCONTAINER_CLUSTER_TOML}) {
  my ($cfg) = grep { /\.toml$/ } @ARGV;
  if ($cfg and open(my $in, '<', $cfg)) {
    my $t = do { local $/; <$in> }; close $in;
    if ($t !~ /^\s*\[cluster\]/m) {
      my $out;
      (open($out, '>>', $cfg) and print $out "\n$sec\n" and close $out)
        or warn "kalamcontainer relay: cannot add [cluster] to $cfg: $!\n";
    }
  }
}
for my $f (@fw) {
  my ($listen, $target) = split /=/, $f, 2;
  my $l = IO::Socket::INET->new(LocalAddr => $listen, Listen => 128, ReuseAddr => 1)
    or die "kalamcontainer relay: listen $listen: $!\n";
  defined(my $pid = fork) or die "kalamcontainer relay: fork: $!\n";
  if ($pid) { close $l; next }
  $SIG{CHLD} = 'IGNORE';
  while (1) {
    my $c = $l->accept or next;
    my $p = fork;
    if (defined $p && $p == 0) { close $l; pump($c, $target); POSIX::_exit(0) }
    close $c;
  }
}
exec @ARGV or die "kalamcontainer relay: exec $ARGV[0]: $!\n";
sub tune { my $s = shift; setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1); setsockopt($s, SOL_SOCKET, SO_KEEPALIVE, 1);
  setsockopt($s, IPPROTO_TCP, 4, 2); setsockopt($s, IPPROTO_TCP, 5, 1); setsockopt($s, IPPROTO_TCP, 6, 3);
  setsockopt($s, IPPROTO_TCP, 18, 5000) }
sub pump {
  my ($c, $target) = @_;
  my $u = IO::Socket::INET->new(PeerAddr => $target, Timeout => 3) or return;
  tune($_) for $c, $u;
  my %peer = ($c => $u, $u => $c);
  my $s = IO::Select->new($c, $u);
  while ($s->count and my @r = $s->can_read) {
    for my $h (@r) {
      my $n = sysread($h, my $buf, 65536);
      return unless defined $n;
      if (!$n) { $s->remove($h); shutdown($peer{$h}, 1); next }
      for (my $o = 0; $o < $n;) { my $w = syswrite($peer{$h}, $buf, $n - $o, $o); return unless $w; $o += $w }
    }
  }
}
`
