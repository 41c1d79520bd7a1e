"""What the benchmark scripts print about the machine they ran on."""

# AMD's microarchitectures by CPU family and model ranges (AMD's Processor Programming
# Reference of each family): a virtual machine's model name is often just "AMD EPYC",
# and the same name covers generations whose vector units differ (Zen 3: 256-bit AVX2;
# Zen 4: AVX-512 on 256-bit units; Zen 5: 512-bit units).
_AMD_CORES = {
    0x17: ((0x00, 0x2F, "Zen/Zen+"), (0x30, 0xFF, "Zen 2")),
    0x19: (
        (0x00, 0x0F, "Zen 3"), (0x10, 0x1F, "Zen 4"), (0x20, 0x5F, "Zen 3"),
        (0x60, 0x7F, "Zen 4"), (0xA0, 0xAF, "Zen 4"),
    ),
    0x1A: ((0x00, 0xFF, "Zen 5"),),
}


def _cpu_fields():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's entry is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def amd_core(vendor, family, model):
    """The AMD microarchitecture of CPU ``family`` and ``model`` (ints), or None."""
    if vendor != "AuthenticAMD":
        return None
    for low, high, name in _AMD_CORES.get(family, ()):
        if low <= model <= high:
            return name
    return None


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, with its family and model numbers (and
    AMD's microarchitecture where they give it), or 'unknown CPU' where there is none."""
    fields = _cpu_fields()
    name = fields.get("model name")
    if name is None:
        return "unknown CPU"
    try:
        family, model = int(fields["cpu family"]), int(fields["model"])
    except (KeyError, ValueError):
        return name
    core = amd_core(fields.get("vendor_id"), family, model)
    return f"{name} (family {family}, model {model}{': ' + core if core else ''})"


if __name__ == "__main__":
    print(cpu_model())
