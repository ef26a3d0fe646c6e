"""Chapter 5: factorising a 3D kernel; R3D against R(2+1)D."""
