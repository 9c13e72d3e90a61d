from mmsim.runtime.vmfault import VM_FAULT_ERROR, VmFault
from mmsim.v1 import common_pb2


def test_values_are_the_kernels():
    # include/linux/mm_types.h enum vm_fault_reason
    assert VmFault.OOM == 0x1 and VmFault.SIGBUS == 0x2 and VmFault.MAJOR == 0x4
    assert VmFault.SIGSEGV == 0x40 and VmFault.NOPAGE == 0x100 and VmFault.LOCKED == 0x200
    assert VmFault.RETRY == 0x400 and VmFault.FALLBACK == 0x800 and VmFault.COMPLETED == 0x4000


def test_round_trip_through_the_wire_enum():
    f = VmFault.MAJOR | VmFault.LOCKED
    wire = f.to_proto()
    assert [common_pb2.VmFault.Name(v) for v in wire] == ["VM_FAULT_MAJOR", "VM_FAULT_LOCKED"]
    assert VmFault.from_proto(wire) == f
    assert str(f) == "VM_FAULT_MAJOR|VM_FAULT_LOCKED"
    assert int(f) == 0x204


def test_error_mask():
    assert VmFault.SIGBUS & VM_FAULT_ERROR
    assert not (VmFault.MAJOR | VmFault.LOCKED) & VM_FAULT_ERROR
