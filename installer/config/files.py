"""Files config.cfg names on this machine (the SSH key, certificates and their keys): what is
wrong with one, in the operator's words. Nothing here prints a file's content: a private key
is never echoed, only what kind of file it is."""

import datetime
import json
import os
import stat
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

MAX_BYTES = 1 << 20  # no certificate or key file is a megabyte


def local_path(base: Path, value: str | Path) -> Path:
    """A path as config.cfg gives it: relative ones from the config file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def unreadable(path: Path, what: str = "file") -> str | None:
    """Why path cannot serve as a file to read, or None."""
    if path.is_dir():
        return f"{path} is a folder, not a {what}"
    if not path.exists():
        return f"no such file: {path}"
    if not path.is_file():
        return f"{path} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"{path} cannot be read by this user"
    size = path.stat().st_size
    if size == 0:
        return f"{path} is empty"
    if size > MAX_BYTES:
        return f"{path} is {size} bytes: too large for a {what}"
    return None


def read(path: Path) -> bytes:
    return path.read_bytes()


def _is_der(data: bytes) -> bool:
    if not data.startswith(b"\x30"):
        return False
    try:
        x509.load_der_x509_certificate(data)
        return True
    except ValueError:
        pass
    try:
        serialization.load_der_private_key(data, password=None)
        return True
    except (ValueError, TypeError):
        return False
    except Exception:
        return True


def kind_of(data: bytes) -> str | None:
    """What a file that is not the PEM expected is, when it can be told: 'is a DER file, not
    PEM', 'is a YAML file'... (never any of its content)."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.strip()
    if data[:1] == b"\x30" and _is_der(data):
        return "is a DER file, not PEM"
    if stripped.startswith(("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")):
        return f"is an SSH public key ({stripped.split()[0]}), not a private key"
    if stripped.startswith("PuTTY-User-Key-File"):
        return "is a PuTTY key (.ppk)"
    if stripped.startswith("-----BEGIN"):
        return None
    if stripped.startswith(("{", "[")):
        try:
            json.loads(stripped)
            return "is a JSON file"
        except ValueError:
            pass
    if "\x00" in text or "\ufffd" in text:
        return "is a binary file"
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        parsed = None
    if isinstance(parsed, dict | list):
        return "is a YAML file"
    return None


def pem_labels(data: bytes) -> list[str]:
    """The labels of the PEM blocks of data: CERTIFICATE, PRIVATE KEY, RSA PRIVATE KEY..."""
    labels = []
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line.startswith("-----BEGIN ") and line.endswith("-----"):
            labels.append(line[len("-----BEGIN "):-len("-----")])
    return labels


def private_key_problem(data: bytes) -> str | None:
    """Why data is not an SSH private key (PEM or OpenSSH), or None."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if first.startswith("-----BEGIN ") and first.endswith("PRIVATE KEY-----"):
        return None
    kind = kind_of(data)
    if kind and "public key" in kind:
        return kind
    if kind and "private key" in kind:
        return kind
    if kind:
        return f"{kind}, not a private key"
    if first.startswith("-----BEGIN "):
        label = first[len("-----BEGIN "):].rstrip("-")
        return f"holds a {'certificate' if label.endswith('CERTIFICATE') else label}, not a private key"
    return "does not hold a private key (its first line must be -----BEGIN ... PRIVATE KEY-----)"


def mode_problem(path: Path) -> int | None:
    """The mode of a key file that others may read (ssh refuses it), or None."""
    mode = path.stat().st_mode
    return stat.S_IMODE(mode) if mode & (stat.S_IRWXG | stat.S_IRWXO) else None


def load_certificates(path: Path, data: bytes) -> tuple[list[x509.Certificate], str | None]:
    """The certificates of a PEM file, or why there are none."""
    labels = pem_labels(data)
    if not labels:
        kind = kind_of(data)
        if kind and "PEM" not in kind:
            kind += ", not a PEM certificate"
        return [], (f"{path} {kind}" if kind else f"{path} is not a PEM certificate (no -----BEGIN CERTIFICATE----- "
                    "line)")
    if "CERTIFICATE" not in labels:
        if any("PRIVATE KEY" in label for label in labels):
            return [], f"{path} holds a private key, not a certificate (certificate and key swapped?)"
        return [], f"{path} holds a {labels[0]}, not a certificate"
    try:
        return x509.load_pem_x509_certificates(data), None
    except ValueError:
        return [], f"{path} is not a valid PEM certificate (it does not parse)"


def load_private_key(path: Path, data: bytes) -> tuple[object | None, str | None]:
    """The private key of a PEM file, or why it cannot be used."""
    labels = pem_labels(data)
    if not labels:
        kind = kind_of(data)
        if kind and "PEM" not in kind and "private key" not in kind:
            kind += ", not a PEM private key"
        return None, (f"{path} {kind}" if kind else f"{path} is not a PEM private key (no -----BEGIN ... PRIVATE "
                      "KEY----- line)")
    if not any("PRIVATE KEY" in label for label in labels):
        if "CERTIFICATE" in labels:
            return None, f"{path} holds a certificate, not a private key (certificate and key swapped?)"
        return None, f"{path} holds a {labels[0]}, not a private key"
    if "ENCRYPTED PRIVATE KEY" in labels or b"Proc-Type: 4,ENCRYPTED" in data:
        return None, f"{path} is protected by a passphrase: the services start unattended and cannot type it"
    try:
        return serialization.load_pem_private_key(data, password=None), None
    except TypeError:
        return None, f"{path} is protected by a passphrase: the services start unattended and cannot type it"
    except ValueError:
        return None, f"{path} is not a valid PEM private key (it does not parse)"
    except Exception:
        return None, f"{path} holds a private key of an unsupported kind"


def validity_problem(path: Path, cert: x509.Certificate, now: datetime.datetime | None = None) -> str | None:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if cert.not_valid_after_utc < now:
        return f"the certificate in {path} expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if cert.not_valid_before_utc > now:
        return f"the certificate in {path} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
    return None


def _public_bytes(public_key: object) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert: x509.Certificate, key: object) -> bool:
    try:
        return _public_bytes(cert.public_key()) == _public_bytes(key.public_key())  # type: ignore[attr-defined]
    except Exception:
        return False


def issued_by(cert: x509.Certificate, issuers: list[x509.Certificate]) -> x509.Certificate | None:
    for issuer in issuers:
        try:
            cert.verify_directly_issued_by(issuer)
            return issuer
        except Exception:
            continue
    return None


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the certificate is valid for (its subjectAltName; its common
    name only when it has none, as old clients do)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return ([n.lower() for n in san.get_values_for_type(x509.DNSName)],
                [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])
    except x509.ExtensionNotFound:
        cns = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
        return [str(cn).lower() for cn in cns], []


def covers(cert: x509.Certificate, name: str) -> bool:
    dns, ips = names_of(cert)
    if name in ips:
        return True
    name = name.lower()
    for pattern in dns:
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False
