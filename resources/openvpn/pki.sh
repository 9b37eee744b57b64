#!/usr/bin/env bash
# The OpenVPN test's keys and certificates, made on the server: a CA, the
# server's certificate, a tls-crypt key, and one bundle per client (an
# inline .ovpn with its own certificate) in bundles/, which the clients
# fetch over HTTP. Usage: pki.sh CLIENTS SERVER_ADDRESS PORT
set -euo pipefail
clients=$1 server=$2 port=$3
rm -rf pki bundles
mkdir -p pki bundles
cd pki
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
key ca
openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj /CN=runner-openvpn-ca
sign() { # NAME EXTENSIONS
    key "$1"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1"
    printf '%b\n' "$2" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 2 -out "$1.crt" -extfile "$1.ext" 2>/dev/null
}
sign server 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth'
openvpn --genkey tls-crypt tc.key
for i in $(seq 0 $((clients - 1))); do
    sign "client-$i" 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth'
    {
        printf '%s\n' client dev\ tun proto\ udp "remote $server $port" \
            nobind disable-dco remote-cert-tls\ server connect-retry\ 1 \
            connect-retry-max\ 30 verb\ 3
        printf '<ca>\n%s\n</ca>\n' "$(cat ca.crt)"
        printf '<cert>\n%s\n</cert>\n' "$(cat "client-$i.crt")"
        printf '<key>\n%s\n</key>\n' "$(cat "client-$i.key")"
        printf '<tls-crypt>\n%s\n</tls-crypt>\n' "$(cat tc.key)"
    } > "../bundles/client-$i.ovpn"
done
chmod 600 ./*.key ../bundles/*
