#!/usr/bin/env bash
# Writes the node's PKI into $REALNODE_DIR/pki: a CA, the API server's and the kubelet's
# serving certificates, client certificates for the admin, the kubelet, the API server's
# calls to the kubelet, the controller manager, the scheduler and kube-proxy, the
# service-account key pair, and a kubeconfig per client. Run by up.sh when absent.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "${PKI}"
cd "${PKI}"
umask 077

openssl genrsa -out ca.key 2048 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=streamreplay-realnode-ca" -days 30 -out ca.crt

# sign NAME SUBJECT SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE
sign() {
  local ext
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  ext="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=$4"
  [[ -n "$3" ]] && ext="${ext}\nsubjectAltName=$3"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out "$1.crt" \
    -extfile <(printf '%b\n' "${ext}") 2>/dev/null
  rm "$1.csr"
}

sign apiserver "/CN=kube-apiserver" \
  "IP:127.0.0.1,IP:${NODE_IP},IP:${KUBERNETES_SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" serverAuth
sign kubelet-serving "/CN=${NODE_NAME}" "IP:127.0.0.1,IP:${NODE_IP},DNS:${NODE_NAME},DNS:localhost" serverAuth
sign admin "/O=system:masters/CN=realnode-admin" "" clientAuth
sign kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}" "" clientAuth
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "" clientAuth
sign kcm "/CN=system:kube-controller-manager" "" clientAuth
sign scheduler "/CN=system:kube-scheduler" "" clientAuth
sign kube-proxy "/CN=system:kube-proxy" "" clientAuth
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

for user in admin kubelet kcm scheduler kube-proxy; do
  cat > "${user}.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: realnode
  cluster: {certificate-authority: ${PKI}/ca.crt, server: "https://${NODE_IP}:${API_PORT}"}
users:
- name: ${user}
  user: {client-certificate: ${PKI}/${user}.crt, client-key: ${PKI}/${user}.key}
contexts:
- name: realnode
  context: {cluster: realnode, user: ${user}}
current-context: realnode
KUBECONFIG
done
