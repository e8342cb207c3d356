"""Analysis: pure computations over frames the warehouse hands over; results stored back in it."""
