from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QWidget

def activate(window, qtbot):
    if not window.isActiveWindow():
        with qtbot.waitActive(window):
            window.activateWindow()

def test_probe(window, qtbot, wait_for_tasks):
    for key in ("rnn", "vit"):
        window.set_panel(key)
        wait_for_tasks(60_000)
    window.set_panel("rnn")
    activate(window, qtbot)
    rnn = window.current_page().panel
    rnn.input_combo.setFocus()
    qtbot.wait(20)
    print("focus in rnn", type(QApplication.focusWidget()).__name__)
    window.next_panel()
    qtbot.wait(20)
    print("focus in vit", type(QApplication.focusWidget()).__name__, window.current_key())
    window.previous_panel()
    qtbot.wait(50)
    fw = QApplication.focusWidget()
    print("current", window.current_key(), "focus", type(fw).__name__, fw.toolTip() if fw else None)
    if fw:
        qtbot.keyClick(fw, Qt.Key.Key_Space)
        print("playing", window.current_page().panel.state.playing, "popup", rnn.input_combo.view().isVisible())
