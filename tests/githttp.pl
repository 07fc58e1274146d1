#!/usr/bin/perl
#
# githttp.pl: git's smart HTTP protocol on a loopback port, for
# tests/integration/tokenctl-git.t.  Each request must carry HTTP Basic
# credentials whose user is x-access-token and whose password is a token
# fakeidp's /introspect calls active; anything else gets 401 with
# WWW-Authenticate: Basic.  Authorized requests go to the real
# "git http-backend" (a CGI program that ships with git) over the
# repositories under ROOT.
#
# usage: githttp.pl ROOT PORT-FILE INTROSPECT-URL LOG
#
# It listens on 127.0.0.1, an ephemeral port written to PORT-FILE (atomically,
# by rename) once listening, and serves one connection at a time, one
# request each (Connection: close).  Every request is a line in LOG:
# "STATUS METHOD PATH SHA", SHA being the first 12 hex digits of the SHA-256
# of the password that came ("-" when none); a password is never written.
# SIGTERM ends it.  Perl core modules only.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempfile);
use HTTP::Tiny;
use IO::Handle;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);

my $HEAD_MAX = 64 * 1024;
my $BODY_MAX = 16 * 1024 * 1024;
my $USER = 'x-access-token';

@ARGV == 4 or die "usage: githttp.pl ROOT PORT-FILE INTROSPECT-URL LOG\n";
my ($root, $port_file, $introspect, $log_file) = @ARGV;
$SIG{PIPE} = 'IGNORE';

my $listener = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => 0,
	Listen => 16,
	ReuseAddr => 1,
) or die "githttp: cannot listen: $!\n";
open(my $pf, '>', "$port_file.tmp") or die "githttp: $port_file.tmp: $!\n";
print $pf $listener->sockport, "\n";
close($pf) or die "githttp: $port_file.tmp: $!\n";
rename("$port_file.tmp", $port_file) or die "githttp: $port_file: $!\n";
open(my $log, '>>', $log_file) or die "githttp: $log_file: $!\n";
$log->autoflush(1);
my $http = HTTP::Tiny->new(timeout => 5);

while (1) {
	my $c = $listener->accept or next;
	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 20;
		serve($c);
		alarm 0;
	};
	alarm 0;
	close($c);
}

# Reads exactly $n bytes (or dies).
sub read_n {
	my ($c, $n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		my $r = sysread($c, $buf, $n - length($buf), length($buf));
		die "short read\n" unless $r;
	}
	return $buf;
}

# Reads one line ending in LF, at most $HEAD_MAX bytes.
sub read_line {
	my ($c) = @_;
	my $line = '';
	while (1) {
		my $r = sysread($c, my $ch, 1);
		die "connection closed\n" unless $r;
		$line .= $ch;
		return $line if $ch eq "\n";
		die "line too long\n" if length($line) > $HEAD_MAX;
	}
}

# The body: by Content-Length, or chunked.
sub read_body {
	my ($c, $h) = @_;
	if (lc($h->{'transfer-encoding'} // '') eq 'chunked') {
		my $body = '';
		while (1) {
			my $size = read_line($c);
			$size =~ /^([0-9A-Fa-f]+)/ or die "bad chunk\n";
			my $n = hex($1);
			die "body too large\n" if length($body) + $n > $BODY_MAX;
			if ($n == 0) {
				1 while read_line($c) !~ /^\r?\n$/;
				return $body;
			}
			$body .= read_n($c, $n);
			read_line($c);
		}
	}
	my $len = $h->{'content-length'} // 0;
	die "bad length\n" unless $len =~ /^\d+$/ && $len <= $BODY_MAX;
	return $len > 0 ? read_n($c, $len) : '';
}

sub respond {
	my ($c, $status, $headers, $body) = @_;
	my $out = "HTTP/1.1 $status\r\n";
	$out .= "$_\r\n" for @$headers;
	$out .= 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n" . $body;
	syswrite($c, $out);
}

# Whether fakeidp calls the token active.
sub active {
	my ($token) = @_;
	(my $enc = $token) =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord($1))/ge;
	my $r = $http->get("$introspect?token=$enc");
	return $r->{success} && $r->{content} =~ /"active"\s*:\s*true/;
}

sub serve {
	my ($c) = @_;
	my $start = read_line($c);
	my ($method, $target) = $start =~ m{^([A-Z]+) (\S+) HTTP/1\.[01]\r?\n$} or die "bad request line\n";
	my (%h, $size);
	while (1) {
		my $line = read_line($c);
		last if $line =~ /^\r?\n$/;
		$size += length($line);
		die "head too large\n" if $size > $HEAD_MAX;
		my ($k, $v) = $line =~ /^([^:\s]+):\s*(.*?)\s*$/ or die "bad header\n";
		$h{lc $k} = $v;
	}
	my ($path, $query) = $target =~ /^([^?]*)(?:\?(.*))?$/;
	$query //= '';

	my ($user, $pass) = (undef, undef);
	if (($h{authorization} // '') =~ /^Basic\s+(\S+)$/i) {
		($user, $pass) = split(/:/, decode_base64($1), 2);
	}
	my $sha = defined $pass ? substr(sha256_hex($pass), 0, 12) : '-';
	if (!defined $pass || $user ne $USER || !active($pass)) {
		print $log "401 $method $path $sha\n";
		respond($c, '401 Unauthorized', ['WWW-Authenticate: Basic realm="git"',
			'Content-Type: text/plain'], "a token is required\n");
		return;
	}
	syswrite($c, "HTTP/1.1 100 Continue\r\n\r\n") if lc($h{expect} // '') eq '100-continue';
	my $body = read_body($c, \%h);

	my ($bf, $bfile) = tempfile(UNLINK => 1);
	print $bf $body;
	close($bf);
	local %ENV = %ENV;
	delete $ENV{$_} for grep { /^HTTP_/ } keys %ENV;
	for my $k (keys %h) {
		next if $k eq 'authorization' || $k eq 'content-type' || $k eq 'content-length';
		(my $name = uc $k) =~ tr/-/_/;
		$ENV{"HTTP_$name"} = $h{$k};
	}
	$ENV{GIT_PROJECT_ROOT} = $root;
	$ENV{GIT_HTTP_EXPORT_ALL} = '1';
	$ENV{GATEWAY_INTERFACE} = 'CGI/1.1';
	$ENV{SERVER_PROTOCOL} = 'HTTP/1.1';
	$ENV{REQUEST_METHOD} = $method;
	$ENV{PATH_INFO} = $path;
	$ENV{QUERY_STRING} = $query;
	$ENV{CONTENT_TYPE} = $h{'content-type'} // '';
	$ENV{CONTENT_LENGTH} = length($body);
	$ENV{REMOTE_USER} = $user;
	$ENV{REMOTE_ADDR} = '127.0.0.1';
	my $pid = open(my $cgi, '-|');
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		open(STDIN, '<', $bfile) or die "$bfile: $!\n";
		exec('git', 'http-backend') or die "git http-backend: $!\n";
	}
	binmode($cgi);
	my $out = do { local $/; <$cgi> };
	close($cgi);
	$out //= '';
	my ($head, $rest) = split(/\r?\n\r?\n/, $out, 2);
	my ($status, @headers) = ('200 OK');
	for my $line (split(/\r?\n/, $head // '')) {
		if ($line =~ /^Status:\s*(.*)$/i) {
			$status = $1;
		} else {
			push @headers, $line;
		}
	}
	my $code = (split(/ /, $status))[0];
	print $log "$code $method $path $sha\n";
	respond($c, $status, \@headers, $rest // '');
}
